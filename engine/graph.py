"""A process's state machine as Mermaid or Graphviz DOT text, with roles on transitions."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from .model import Organisation, Process, text


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


def _width(label: str) -> float:
    """The inches a label needs at 14 pt: renderers without the font (Viz.js in a browser)
    measure CJK characters as Latin ones, so boxes are sized here for full-width glyphs."""
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in label)
    return round(0.4 + 0.21 * wide + 0.11 * (len(label) - wide), 2)


def dot(process: Process, locale: str = "en", organisation: Organisation | None = None) -> str:
    """A Graphviz DOT digraph of the process."""
    lines = [f"digraph {_quote(process.id)} {{", "    rankdir=LR;",
             f"    label={_quote(text(process.label, locale))};",
             '    node [shape=box, style=rounded];', '    start [shape=point];']
    for state in process.states.values():
        shape = ", peripheries=2" if state.final else ""
        label = text(state.label, locale)
        lines.append(f"    {state.id} [label={_quote(label)}, width={_width(label)}{shape}];")
    for source, target, label in _edges(process, locale, organisation):
        lines.append(f"    {source or 'start'} -> {target} [label={_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
