// The definition editor's CodeMirror 6 bundle: YAML, lint markers the server computes, and
// completion and hover help from the project's JSON Schemas (codemirror-json-schema).
// Built into one file by build.mjs; the page calls window.QmsflowEditor.create(...).
import { EditorView, basicSetup } from "codemirror";
import { EditorState, Compartment } from "@codemirror/state";
import { hoverTooltip, keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { yaml, yamlLanguage } from "@codemirror/lang-yaml";
import { setDiagnostics, lintGutter } from "@codemirror/lint";
import { yamlCompletion, yamlSchemaHover } from "codemirror-json-schema/yaml";
import { stateExtensions, updateSchema } from "codemirror-json-schema";

const schemaHelp = [
  yamlLanguage.data.of({ autocomplete: yamlCompletion() }),
  hoverTooltip(yamlSchemaHover()),
];

// Problems as the server reports them ({line, column, message, severity}), 1-based, on the
// lines they name (a line past the end falls on the last).
function toDiagnostics(doc, problems) {
  return problems.map((p) => {
    const line = doc.line(Math.min(Math.max(p.line || 1, 1), doc.lines));
    const from = Math.min(line.from + Math.max((p.column || 1) - 1, 0), line.to);
    return { from, to: line.to > from ? line.to : from, severity: p.severity || "error",
             message: p.message };
  });
}

function create(parent, options) {
  const onChange = options.onChange || (() => {});
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: options.doc || "",
      extensions: [
        basicSetup,
        keymap.of([indentWithTab]),
        yaml(),
        lintGutter(),
        stateExtensions(options.schema || undefined),
        schemaHelp,
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onChange(update.state.doc.toString());
        }),
        EditorView.contentAttributes.of({ "aria-label": options.label || "YAML" }),
      ],
    }),
  });
  return {
    view,
    getText: () => view.state.doc.toString(),
    setText: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    setSchema: (schema) => updateSchema(view, schema || undefined),
    showProblems: (problems) => view.dispatch(setDiagnostics(view.state, toDiagnostics(view.state.doc, problems))),
    focus: () => view.focus(),
  };
}

window.QmsflowEditor = { create };
