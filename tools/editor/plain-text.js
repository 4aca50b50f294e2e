// Stands in for codemirror-json-schema's utils/markdown.js: the project's schema descriptions
// are plain sentences, so they are shown as escaped text, without markdown-it and shiki (which
// would add 400 kB and a highlighter started at load).
const escapes = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function renderMarkdown(markdown) {
  // Backticks mark code in the library's own type notes ("`enum`: ..."): dropped, not shown.
  return String(markdown ?? "").replaceAll("`", "").replace(/[&<>"']/g, (c) => escapes[c]);
}
