"""A process's state machine as Mermaid or Graphviz DOT text, with roles on transitions."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from .model import Organisation, Process, Step, text


def _edges(process: Process, locale: str, organisation: Organisation | None
           ) -> Iterator[tuple[str | None, str, str]]:
    """Every edge as (source state or None for a start step, target state, label); roles and
    signature meanings by their labels when the organisation is given."""
    roles = organisation.roles if organisation else {}
    meanings = organisation.signature_meanings if organisation else {}

    def role(role_id: str) -> str:
        return text(roles[role_id].label, locale) if role_id in roles else role_id

    for step in process.every_step():
        meaning = step.signature or ""
        if meaning in meanings:
            meaning = text(meanings[meaning].label, locale)
        sign = f" ✍ {meaning}" if step.signature else ""
        label = (f"{text(step.label, locale) or step.id} "
                 f"[{', '.join(role(r) for r in step.roles)}]{sign}")
        for source in step.sources or (None,):
            # A step that stays is a loop on each state it is offered in.
            yield source, step.lands_in(source or ""), label


def mermaid(process: Process, locale: str = "en", organisation: Organisation | None = None
            ) -> str:
    """A Mermaid ``stateDiagram-v2`` of the process."""
    lines = ["stateDiagram-v2", f"    %% {text(process.label, locale)} ({process.id})"]
    for state in process.states.values():
        lines.append(f'    state "{text(state.label, locale)}" as {state.id}')
    for source, target, label in _edges(process, locale, organisation):
        lines.append(f"    {source or '[*]'} --> {target}: {label}")
    for state in process.states.values():
        if state.final:
            lines.append(f"    {state.id} --> [*]")
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lines(lines: list[str], end: str = "\\n") -> str:
    """Lines as one quoted DOT label: ``\\n`` centres each line, ``\\l`` left-aligns it
    (and ends the label, or its last line is centred)."""
    body = end.join(_quote(line)[1:-1] for line in lines)
    return f'"{body}{end}"' if end == "\\l" else f'"{body}"'


def _columns(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


#: Characters a line must not start with (closing punctuation), nor end with (opening).
_NO_START = set("，。、；：！？）」』】》〉,.;:!?)]}”’")
_NO_END = set("（「『【《〈([{“‘")


def wrap(label: str, width: int = 16) -> list[str]:
    """``label`` in lines of at most ``width`` columns, a full-width (CJK) character taking two
    (so 16 is 8 Chinese characters or 16 Latin ones). Latin words stay whole; Chinese breaks
    between any two characters, but not before closing or after opening punctuation."""
    tokens: list[str] = []
    for char in label:
        if char == " ":
            tokens.append(" ")
        elif _columns(char) == 2 or char in _NO_START or not tokens or tokens[-1] == " " \
                or _columns(tokens[-1][-1]) == 2:
            tokens.append(char)
        else:
            tokens[-1] += char  # a Latin word grows
    lines: list[str] = []
    line = ""
    for token in tokens:
        if line and sum(map(_columns, (line + token).rstrip())) > width and token != " " \
                and token[0] not in _NO_START and line[-1] not in _NO_END:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.strip())
    return lines or [""]


def _width(label: str) -> float:
    """The inches a label needs at 14 pt: renderers without the font (Viz.js in a browser)
    measure CJK characters as Latin ones, so boxes are sized here for full-width glyphs."""
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in label)
    return round(0.4 + 0.21 * wide + 0.11 * (len(label) - wide), 2)


def _pad(line: str, centred: bool = True) -> str:
    """A label line with one space more per full-width character. Viz.js measures a CJK glyph
    a quarter em narrower than it is drawn (about a space) and the size of an edge label
    cannot be set: the spaces reserve the room, split before and after a centred line so
    that its text stays in the middle (Graphviz keeps them: ``xml:space="preserve"``)."""
    wide = sum(_columns(c) == 2 for c in line)
    before = wide // 2 if centred else 0
    return " " * before + line + " " * (wide - before)


#: The note of steps offered in every open state (``from: any``) or every state (``all``).
_ANYWHERE = {
    "en": {"any": "In any open state:", "all": "In any state, finished ones too:"},
    "zh": {"any": "任一未结状态均可办理：", "all": "任一状态（含已结束）均可办理："},
}

#: How the case's current state stands out (a filled, bold box); ``class`` reaches the SVG.
CURRENT_STYLE = ('style="rounded,filled,bold", fillcolor="#fde68a", color="#92400e", '
                 'penwidth=2.5, class="current"')


def dot(process: Process, locale: str = "en", organisation: Organisation | None = None,
        current: str | None = None, wrap_at: int = 16) -> str:
    """A Graphviz DOT digraph of the process, drawn top-down with labels wrapped at
    ``wrap_at`` columns; ``current`` (a state id) is highlighted. Steps offered in every
    (open) state are listed once in a note instead of a loop on each state."""
    lines = [f"digraph {_quote(process.id)} {{", "    rankdir=TB;", "    nodesep=0.35;",
             "    ranksep=0.4;", f"    label={_quote(text(process.label, locale))};",
             "    labelloc=t;", "    node [shape=box, style=rounded, fontsize=14];",
             "    edge [fontsize=11];", "    start [shape=point];"]
    for state in process.states.values():
        shape = ", peripheries=2" if state.final else ""
        shown = wrap(text(state.label, locale) or state.id, wrap_at)
        here = f", {CURRENT_STYLE}" if state.id == current else ""
        lines.append(f"    {state.id} [label={_lines(shown)}, "
                     f"width={max(map(_width, shown))}, id={_quote('state-' + state.id)}"
                     f"{shape}{here}];")
    anywhere: dict[str, list[str]] = {}
    words = _ANYWHERE.get(locale.split("-")[0], _ANYWHERE["en"])
    for step, label in _step_labels(process, locale, organisation):
        shown = [_pad(line) for part in label for line in wrap(part, wrap_at)]
        if step.from_keyword:
            anywhere.setdefault(step.from_keyword, []).extend(
                _pad(("• " if i == 0 else "   ") + line, centred=False)
                for i, line in enumerate(wrap(" ".join(label), wrap_at + 8)))
            if not step.stays:
                lines.append(f"    anywhere_{step.from_keyword} -> {step.target} "
                             f"[label={_lines(shown)}, style=dashed];")
            continue
        for source in step.sources or (None,):
            lines.append(f"    {source or 'start'} -> {step.lands_in(source or '')} "
                         f"[label={_lines(shown)}];")
    for keyword, steps in anywhere.items():
        note = _lines([_pad(words[keyword], False), *steps], end="\\l")
        lines.append(f'    anywhere_{keyword} [shape=note, style="", fontsize=12, label={note}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _step_labels(process: Process, locale: str, organisation: Organisation | None
                 ) -> Iterator[tuple[Step, list[str]]]:
    """Each step with its label's parts: its name, its roles, its signature meaning."""
    roles = organisation.roles if organisation else {}
    meanings = organisation.signature_meanings if organisation else {}
    for step in process.every_step():
        meaning = step.signature or ""
        if meaning in meanings:
            meaning = text(meanings[meaning].label, locale)
        comma = "、" if locale.split("-")[0] == "zh" else ", "
        names = comma.join(text(roles[r].label, locale) if r in roles else r for r in step.roles)
        parts = [text(step.label, locale) or step.id, f"[{names}]"]
        if step.signature:
            parts.append(f"✍ {meaning}")
        yield step, parts
