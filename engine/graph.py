"""A process's state machine as Mermaid or Graphviz DOT text, with roles on transitions."""

from __future__ import annotations

from collections.abc import Iterator

from .model import Process, text


def _edges(process: Process, locale: str) -> Iterator[tuple[str | None, str, str]]:
    """Every edge as (source state or None for a start step, target state, label)."""
    for step in [*process.starts.values(), *process.transitions.values()]:
        sign = f" ✍ {step.signature}" if step.signature else ""
        label = f"{text(step.label, locale) or step.id} [{', '.join(step.roles)}]{sign}"
        for source in step.sources or (None,):
            yield source, step.target, label


def mermaid(process: Process, locale: str = "en") -> str:
    """A Mermaid ``stateDiagram-v2`` of the process."""
    lines = ["stateDiagram-v2", f"    %% {text(process.label, locale)} ({process.id})"]
    for state in process.states.values():
        lines.append(f'    state "{text(state.label, locale)}" as {state.id}')
    for source, target, label in _edges(process, locale):
        lines.append(f"    {source or '[*]'} --> {target}: {label}")
    for state in process.states.values():
        if state.final:
            lines.append(f"    {state.id} --> [*]")
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(process: Process, locale: str = "en") -> str:
    """A Graphviz DOT digraph of the process."""
    lines = [f"digraph {_quote(process.id)} {{", "    rankdir=LR;",
             f"    label={_quote(text(process.label, locale))};",
             '    node [shape=box, style=rounded];', '    start [shape=point];']
    for state in process.states.values():
        shape = ", peripheries=2" if state.final else ""
        lines.append(f"    {state.id} [label={_quote(text(state.label, locale))}{shape}];")
    for source, target, label in _edges(process, locale):
        lines.append(f"    {source or 'start'} -> {target} [label={_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
