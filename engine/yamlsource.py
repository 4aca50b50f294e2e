"""Read YAML definition files into plain data that remembers where every node came from.

PyYAML's loader forgets positions and has traps: duplicate keys silently win, ``yes``/``no``/
``on``/``off`` become booleans, bare dates become ``date`` objects and ``17:30`` becomes the
base-60 integer 1050. This module composes the node graph (every node has a ``start_mark``) and
builds the data itself, so that:

- mappings and sequences are :class:`YMap` / :class:`YSeq`, ordinary ``dict``/``list`` subclasses
  that keep the mark of each child, so a JSON path can be turned back into ``file:line:column``;
- duplicate keys are problems, keys are always the text as written;
- bare dates and times stay text (what a definition means by them), integers written with ``:``
  stay text, and booleans spelt ``yes``/``no``/``on``/``off`` carry a note that error messages
  repeat, so a person sees what YAML did with their value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import QmsflowError
from .problems import Phrase, Problem, Wordable, json_path, phrase

# The C loader composes the same node graph with marks, several times faster.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MAX_NODES = 200_000  # refuses alias bombs ("billion laughs") long before memory suffers

_BOOL_TEXTS = {"true", "false"}


@dataclass(frozen=True)
class Mark:
    """A position in a source file; line and column are 1-based."""

    file: str
    line: int
    column: int


class YMap(dict[str, Any]):
    """A mapping read from YAML, with the mark of itself, of each key and of each value."""

    mark: Mark
    key_marks: dict[str, Mark]
    value_marks: dict[str, Mark]
    notes: dict[str, Phrase]

    def __init__(self, mark: Mark) -> None:
        super().__init__()
        self.mark = mark
        self.key_marks = {}
        self.value_marks = {}
        self.notes = {}

    def put(self, key: str, value: Any, key_mark: Mark, value_mark: Mark,
            note: Phrase | None) -> None:
        """Store one entry with its positions (used by the reader and by overlay merging)."""
        self[key] = value
        self.key_marks[key] = key_mark
        self.value_marks[key] = value_mark
        if note:
            self.notes[key] = note
        else:
            self.notes.pop(key, None)


class YSeq(list[Any]):
    """A sequence read from YAML, with the mark of itself and of each item."""

    mark: Mark
    item_marks: list[Mark]
    notes: dict[int, Phrase]

    def __init__(self, mark: Mark) -> None:
        super().__init__()
        self.mark = mark
        self.item_marks = []
        self.notes = {}

    def push(self, value: Any, mark: Mark, note: Phrase | None) -> None:
        """Append one item with its position."""
        if note:
            self.notes[len(self)] = note
        self.append(value)
        self.item_marks.append(mark)


def _mark(file: str, node_mark: Any) -> Mark:
    return Mark(file, node_mark.line + 1, node_mark.column + 1)


class _Builder:
    """Turns a composed node graph into YMap/YSeq/scalars, collecting problems."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.problems: list[Problem] = []
        self.count = 0
        self._constructor = yaml.SafeLoader("")
        self._active: set[int] = set()

    def build(self, node: yaml.Node, path: tuple[str | int, ...]) -> tuple[Any, Phrase | None]:
        self.count += 1
        if self.count > _MAX_NODES:
            raise _TooLarge
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._active:
            for alias in _cycle_aliases(self.text):
                self.problems.append(Problem.of(
                    self.file, alias.line + 1, alias.column + 1, "Y004", json_path(path),
                    phrase("the alias '*{anchor}' refers to a node that contains it (a cycle)",
                           anchor=alias.anchor),
                    phrase("copy the values out instead of referring to the enclosing node")))
            return (YMap if isinstance(node, yaml.MappingNode) else YSeq)(
                _mark(self.file, node.start_mark)), None
        self._active.add(id(node))
        if node.tag not in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
            self._problem(node, "Y007", path, phrase("unsupported YAML tag {tag}", tag=node.tag),
                          phrase("remove the tag"))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path), None
            if isinstance(node, yaml.SequenceNode):
                seq = YSeq(_mark(self.file, node.start_mark))
                for index, item in enumerate(node.value):
                    value, note = self.build(item, (*path, index))
                    seq.push(value, _mark(self.file, item.start_mark), note)
                return seq, None
        finally:
            self._active.discard(id(node))
        raise AssertionError(f"unknown YAML node {node!r}")  # composer yields only these three

    def _mapping(self, node: yaml.MappingNode, path: tuple[str | int, ...]) -> YMap:
        result = YMap(_mark(self.file, node.start_mark))
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_node, "Y005", path,
                              phrase("a key must be plain text, not a list or map"))
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._problem(
                    key_node, "Y006", path, phrase("merge keys '<<' are not supported"),
                    phrase("write the entries out, or use 'extends' between definition sets"),
                )
                continue
            # Keys stay the text as written: `on:` or `2027:` must not become True or 2027.
            key = str(key_node.value)
            if key in result:
                first = result.key_marks[key]
                self._problem(
                    key_node, "Y002", (*path, key),
                    phrase("duplicate key '{key}' (first defined at line {line}); YAML would "
                           "silently keep only the last one", key=key, line=first.line),
                    phrase("remove or rename one of them"),
                )
                continue
            value, note = self.build(value_node, (*path, key))
            result.put(
                key, value, _mark(self.file, key_node.start_mark),
                _mark(self.file, value_node.start_mark), note,
            )
        return result

    def _scalar(self, node: yaml.ScalarNode, path: tuple[str | int, ...]
                ) -> tuple[Any, Phrase | None]:
        tag = node.tag
        text = str(node.value)
        if tag == "tag:yaml.org,2002:timestamp":
            # A bare date means the date written; keep it as ISO text, which the schema checks.
            return text, phrase("YAML reads the bare value {text} as a date", text=text)
        if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in text:
            # YAML 1.1 reads 17:30 as the base-60 number 1050; a time of day is what was meant.
            return text, None
        if tag == "tag:yaml.org,2002:bool" and text.lower() not in _BOOL_TEXTS:
            value = self._constructor.construct_object(node)
            return value, phrase(
                "YAML 1.1 reads the bare word {word!r} as the boolean {value}; "
                "write '{text}' in quotes if you meant text",
                word=text, value=str(value).lower(), text=text)
        if tag == "tag:yaml.org,2002:binary":
            return text, None
        if not tag.startswith("tag:yaml.org,2002:"):
            self._problem(node, "Y007", path, phrase("unsupported YAML tag {tag}", tag=tag),
                          phrase("remove the tag"))
            return text, None
        try:
            return self._constructor.construct_object(node), None
        except yaml.YAMLError as error:
            # e.g. a bare '<<' value: YAML's merge tag outside a key
            self._problem(node, "Y007", path,
                          phrase("cannot read the value {text!r}: {error}", text=text,
                                 error=str(error).split("\n")[0]),
                          phrase("quote the value"))
            return text, None

    def _problem(
        self, node: yaml.Node, code: str, path: Sequence[str | int], message: Wordable,
        hint: Wordable | None = None,
    ) -> None:
        self.problems.append(
            Problem.of(
                self.file, node.start_mark.line + 1, node.start_mark.column + 1, code,
                json_path(path), message, hint,
            )
        )


class _TooLarge(QmsflowError):
    pass


@dataclass(frozen=True)
class _AliasMark:
    anchor: str
    line: int
    column: int


def _cycle_aliases(text: str) -> list[_AliasMark]:
    """Where aliases close a cycle: the C composer keeps no marks for aliases, so look again.

    Only called once a cycle has been found, so the slower pure-Python composer costs nothing
    on ordinary files.
    """
    found: list[_AliasMark] = []
    open_anchors: list[str] = []

    class Finder(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            mark = event.start_mark
            if isinstance(event, yaml.AliasEvent) and event.anchor in open_anchors and mark:
                found.append(_AliasMark(str(event.anchor), mark.line, mark.column))
            anchor = getattr(event, "anchor", None)
            if anchor and isinstance(event, yaml.CollectionStartEvent):
                open_anchors.append(anchor)
                try:
                    return super().compose_node(parent, index)
                finally:
                    open_anchors.pop()
            return super().compose_node(parent, index)

    loader = Finder(text)
    try:
        loader.get_single_node()
    finally:
        loader.dispose()
    return found


def read_yaml_text(text: str, file: str) -> tuple[YMap | None, list[Problem]]:
    """Parse one YAML document held in ``text``; ``file`` is the name used in problems."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        # An unclosed bracket or quote is reported where the file ends; where it was opened
        # is what a person needs to find.
        unclosed = error.context and ("flow" in error.context or "quoted" in error.context)
        if unclosed and error.context_mark:
            mark = error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(part) for part in (error.context, error.problem) if part)
        detail: Wordable = message
        hint: Phrase | None = None
        lines = text.splitlines()
        here = lines[line - 1][column - 1:column] if 0 < line <= len(lines) else ""
        if here == "\t" or "'\\t'" in message:
            detail = phrase("{detail} (a tab)", detail=message)
            hint = phrase("indent with spaces, not tabs")
        elif unclosed:
            hint = phrase("close the bracket or quote opened here")
        return None, [Problem.of(file, line, column, "Y001", "$",
                                 phrase("YAML syntax: {detail}", detail=detail), hint)]
    except yaml.YAMLError as error:  # reader errors: bad bytes, control characters
        return None, [Problem.of(file, 1, 1, "Y001", "$",
                                 phrase("YAML syntax: {detail}", detail=str(error)))]
    documents = [n for n in nodes if n is not None]
    if not documents:
        return None, [Problem.of(file, 1, 1, "Y003", "$", phrase("the file is empty"),
                                 phrase("a definition file starts with 'kind:'"))]
    if len(documents) > 1:
        line = documents[1].start_mark.line
        lines = text.splitlines()
        # The node starts after the '---' that separates the documents; point at that.
        while line > 0 and not lines[min(line, len(lines) - 1)].startswith("---"):
            line -= 1
        return None, [Problem.of(file, line + 1, 1, "Y003", "$",
                                 phrase("the file holds more than one YAML document ('---')"),
                                 phrase("put each definition in a file of its own"))]
    builder = _Builder(file, text)
    try:
        data, _ = builder.build(documents[0], ())
    except _TooLarge:
        return None, [Problem.of(file, 1, 1, "Y008", "$",
                                 phrase("the file expands to more than {count} nodes",
                                        count=_MAX_NODES),
                                 phrase("aliases that expand exponentially are refused"))]
    if not isinstance(data, YMap):
        start = documents[0].start_mark
        return None, [*builder.problems, Problem.of(
            file, start.line + 1, start.column + 1, "Y003", "$",
            phrase("a definition file must be a mapping of keys to values"),
            phrase("start the file with 'kind: <kind>'"),
        )]
    return data, builder.problems


def read_yaml(path: Path, display: str | None = None) -> tuple[YMap | None, list[Problem]]:
    """Read one definition file; problems name it as ``display`` (default: the path given)."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return None, [Problem.of(name, 1, 1, "Y001", "$",
                                 phrase("the file is not UTF-8 text ({reason} at byte {start})",
                                        reason=error.reason, start=error.start),
                                 phrase("save it as UTF-8"))]
    except OSError as error:
        return None, [Problem.of(name, 1, 1, "F001", "$",
                                 phrase("cannot read the file: {reason}", reason=error.strerror))]
    return read_yaml_text(text, name)


def mark_of(root: YMap, path: Sequence[str | int], *, key: bool = False) -> Mark:
    """The mark of the node at ``path`` (or of its key), falling back to the nearest parent."""
    node: Any = root
    mark = root.mark
    for index, part in enumerate(path):
        last = index == len(path) - 1
        if isinstance(node, YMap) and isinstance(part, str) and part in node:
            mark = node.key_marks[part] if (key and last) else node.value_marks[part]
            node = node[part]
        elif isinstance(node, YSeq) and isinstance(part, int) and 0 <= part < len(node):
            mark = node.item_marks[part]
            node = node[part]
        else:
            break
    return mark


def note_of(root: YMap, path: Sequence[str | int]) -> Phrase | None:
    """The note (what YAML did to a scalar) recorded at ``path``, if any."""
    if not path:
        return None
    node: Any = root
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    notes = getattr(node, "notes", None)
    return notes.get(path[-1]) if notes else None
