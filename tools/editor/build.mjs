// Bundles editor.js and its dependencies into ONE minified file the web application serves
// (web/static/vendor/codemirror/codemirror.min.js), and writes the licence of every package
// inside it beside it (LICENSES.txt). Run: npm ci && npm run build
import { build } from "esbuild";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = (name) => fileURLToPath(new URL(name, import.meta.url));
const target = here("../../web/static/vendor/codemirror/");

// codemirror-json-schema renders descriptions as markdown with shiki: plain text is enough.
const plainText = {
  name: "plain-text-descriptions",
  setup(b) {
    b.onResolve({ filter: /utils\/markdown(\.js)?$/ }, (args) =>
      args.importer.includes("codemirror-json-schema") ? { path: here("./plain-text.js") } : undefined);
  },
};

// Its hover help reads schemas as Draft 04, where "id" is a keyword: a schema with a property
// named "id" (every one of ours) fails there. Draft 07 reads them as completion does.
const hoverDraft07 = {
  name: "hover-draft-07",
  setup(b) {
    b.onLoad({ filter: /codemirror-json-schema[\\/]dist[\\/]features[\\/]hover\.js$/ }, (args) => ({
      contents: readFileSync(args.path, "utf8").replaceAll("Draft04", "Draft07"),
      loader: "js",
      resolveDir: dirname(args.path),
    }));
  },
};

const result = await build({
  entryPoints: [here("./editor.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "none",
  metafile: true,
  outfile: `${target}codemirror.min.js`,
  logLevel: "info",
  plugins: [plainText, hoverDraft07],
});

const packages = new Set();
for (const output of Object.values(result.metafile.outputs)) {
  for (const input of Object.keys(output.inputs)) {
    const found = input.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
    if (found) packages.add(found[1]);
  }
}
const parts = [];
for (const name of [...packages].sort()) {
  const folder = here(`./node_modules/${name}/`);
  const meta = JSON.parse(readFileSync(`${folder}package.json`, "utf8"));
  meta.license ??= (meta.licenses || []).map((l) => l.type).join(", ") || "see the text";
  const file = readdirSync(folder).find((f) => /^(licen[cs]e|copying)/i.test(f));
  const text = file && existsSync(folder + file) ? readFileSync(folder + file, "utf8").trim()
    : `(no licence file in the package; package.json says: ${meta.license})`;
  parts.push(`${name} ${meta.version} (${meta.license})\n${"-".repeat(72)}\n${text}\n`);
}
writeFileSync(`${target}LICENSES.txt`,
  "Licences of the packages bundled into codemirror.min.js (built by tools/editor).\n\n" +
  parts.join("\n"));
