// The definition editor: CodeMirror over the draft's textarea (the textarea alone when the
// bundle is missing), the draft checked on the server as the user types (debounced), and the
// problems shown as lint markers and as the list under the editor.
(function () {
  "use strict";
  const form = document.querySelector("[data-draft-editor]");
  if (!form) return;
  const textarea = form.querySelector("textarea[name=text]");
  const mount = form.querySelector("[data-editor-mount]");
  const status = form.querySelector("[data-editor-status]");
  const list = document.querySelector("[data-problem-list]");
  const count = document.querySelector("[data-problem-count]");
  const file = form.dataset.file;
  const readOnly = textarea.readOnly;
  let editor = null;
  let schemas = null;
  let timer = null;
  let asked = 0;

  function kindOf(text) {
    const found = /^kind:\s*['"]?([a-z-]+)/m.exec(text);
    return found ? found[1] : "";
  }

  function text() { return editor ? editor.getText() : textarea.value; }

  function schemaFor(value) {
    return schemas ? schemas[kindOf(value)] || null : null;
  }

  function showProblems(problems) {
    list.textContent = "";
    for (const p of problems) {
      const item = document.createElement("li");
      // Another file's problem links to that file, as the page's own list does.
      const where = document.createElement(p.file === file ? "span" : "a");
      where.className = "where";
      where.textContent = `${p.file}:${p.line}:${p.column}`;
      if (p.file !== file) where.href = `?file=${encodeURIComponent(p.file)}`;
      const code = document.createElement("span");
      code.className = "code";
      code.textContent = p.code;
      const summary = document.createElement("strong");
      summary.textContent = p.summary;
      const path = document.createElement("span");
      path.className = "path";
      path.textContent = p.path;
      item.append(where, " ", code, " ", summary, " ", path, " ", p.message);
      if (p.hint) {
        const hint = document.createElement("span");
        hint.className = "hint";
        hint.textContent = `(${p.hint})`;
        item.append(" ", hint);
      }
      // The English words `qmsflow validate` and CI print, for whoever compares the two.
      if (p.message_en && p.message_en !== p.message) {
        item.title = `${p.message_en}${p.hint_en ? ` (${p.hint_en})` : ""}`;
      }
      list.append(item);
    }
    if (editor) {
      editor.showProblems(problems.filter((p) => p.file === file).map((p) => ({
        line: p.line, column: p.column,
        message: `${p.code} ${p.summary}: ${p.message}${p.hint ? ` (${p.hint})` : ""}`,
      })));
    }
  }

  async function check() {
    const mine = ++asked;
    status.textContent = form.dataset.checking;
    try {
      const response = await fetch(form.dataset.checkUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": form.dataset.csrf },
        body: JSON.stringify({ file, text: text() }),
      });
      if (!response.ok) throw new Error(String(response.status));
      const answer = await response.json();
      if (mine !== asked) return; // a newer check is on its way
      showProblems(answer.problems);
      count.textContent = answer.count;
      status.textContent = textarea.defaultValue === text() ? "" : form.dataset.unsaved;
    } catch (error) {
      if (mine === asked) status.textContent = form.dataset.failed;
    }
  }

  function changed() {
    textarea.value = text();
    if (editor && schemas) editor.setSchema(schemaFor(textarea.value));
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  }

  if (window.QmsflowEditor && !readOnly) {
    editor = window.QmsflowEditor.create(mount, {
      doc: textarea.value, label: textarea.labels[0] ? textarea.labels[0].textContent : file,
      onChange: changed,
    });
    mount.hidden = false;
    textarea.hidden = true;
    form.querySelector(`label[for=${textarea.id}]`).addEventListener("click", () => editor.focus());
    fetch(form.dataset.schemasUrl, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .then((found) => { schemas = found; if (found) editor.setSchema(schemaFor(text())); })
      .catch(() => {});
  } else {
    textarea.addEventListener("input", changed);
  }
  form.addEventListener("submit", () => { textarea.value = text(); });
  check(); // the markers of the problems the page lists
})();
