"""A process's state machine as Mermaid or Graphviz DOT text, with roles on transitions."""

from __future__ import annotations

from .model import Process, text


def _edge_label(step_id: str, roles: tuple[str, ...], signature: str | None,
                locale: str, label: str) -> str:
    shown = label or step_id
    sign = f" ✍ {signature}" if signature else ""
    return f"{shown} [{', '.join(roles)}]{sign}"


def mermaid(process: Process, locale: str = "en") -> str:
    """A Mermaid ``stateDiagram-v2`` of the process."""
    lines = ["stateDiagram-v2", f"    %% {text(process.label, locale)} ({process.id})"]
    for state in process.states.values():
        lines.append(f'    state "{text(state.label, locale)}" as {state.id}')
    for step in process.starts.values():
        label = _edge_label(step.id, step.roles, step.signature, locale,
                            text(step.label, locale))
        lines.append(f"    [*] --> {step.target}: {label}")
    for step in process.transitions.values():
        label = _edge_label(step.id, step.roles, step.signature, locale,
                            text(step.label, locale))
        for source in step.sources:
            lines.append(f"    {source} --> {step.target}: {label}")
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
    for step in process.starts.values():
        label = _edge_label(step.id, step.roles, step.signature, locale,
                            text(step.label, locale))
        lines.append(f"    start -> {step.target} [label={_quote(label)}];")
    for step in process.transitions.values():
        label = _edge_label(step.id, step.roles, step.signature, locale,
                            text(step.label, locale))
        for source in step.sources:
            lines.append(f"    {source} -> {step.target} [label={_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
