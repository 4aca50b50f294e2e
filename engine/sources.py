"""Collect a definition set's files, follow ``extends`` and merge overlays by id.

A definition set is a folder with one ``kind: definition-set`` manifest and any number of YAML
files below it. A set that ``extends`` a base overrides the base by id without copying it:

- a file whose kind and id exist in the base is an *overlay*: its keys replace the base's,
  mappings merge key by key, and lists of items with ``id`` merge item by item;
- in such lists an item changes the base item with the same id (``op: merge``, the default),
  replaces it whole (``op: replace``), removes it (``op: remove``) or adds a new one
  (``op: add``); naming an id the base does not have is an error, so a typo never silently
  adds a half-written item;
- a file whose kind and id are new adds a whole definition (a new process, a calendar).

Merged data keeps the marks of whichever file supplied each node, so later errors point into the
right file.

A set that comes from outside the server (an upload) may extend only a set the server offers:
``collect(root, bases)`` is given those sets by name, and the set's ``extends`` must name one
of them; no other folder of the server is ever read for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .problems import Problem, Wordable, joined, json_path, phrase, suggest
from .yamlsource import Mark, YMap, YSeq, read_yaml

KINDS = ("definition-set", "organisation", "calendar", "process", "notifications", "reports",
         "report-form", "register", "schedule")
SINGLETON_KINDS = frozenset({"definition-set", "organisation", "notifications", "reports"})
MANIFEST = "set.yaml"
OPS = ("add", "merge", "replace", "remove")


@dataclass
class Document:
    """One merged definition document with the files that contributed to it."""

    kind: str
    key: str
    data: YMap
    files: list[str] = field(default_factory=list)


@dataclass
class SetSources:
    """Every document of a definition set after ``extends`` has been applied."""

    root: Path
    documents: dict[tuple[str, str], Document] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)  # the set's, then each base's, resolved

    def of_kind(self, kind: str) -> Iterator[Document]:
        """Documents of one kind, in a stable order."""
        for (doc_kind, _), doc in sorted(self.documents.items()):
            if doc_kind == kind:
                yield doc


def display_name(path: Path) -> str:
    """How problems name a file: relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _problem(mark: Mark, code: str, path: list[str | int] | tuple[str | int, ...],
             message: Wordable, hint: Wordable | None = None) -> Problem:
    return Problem.of(mark.file, mark.line, mark.column, code, json_path(path), message, hint)


def _document_key(kind: str, data: YMap) -> str | None:
    if kind in SINGLETON_KINDS:
        return kind
    ident = data.get("id")
    return ident if isinstance(ident, str) else None


def set_files(folder: Path) -> list[Path]:
    """The YAML files of the set in ``folder``, sorted.

    A folder below with its own manifest is another set (e.g. a client set kept beside its
    base): its files are not this set's.
    """
    nested = [p.parent for p in folder.rglob(MANIFEST) if p.parent != folder]
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                  and not any(n in p.parents for n in nested))


def _read_folder(folder: Path, problems: list[Problem]) -> dict[tuple[str, str], Document]:
    documents: dict[tuple[str, str], Document] = {}
    for path in set_files(folder):
        name = display_name(path)
        data, found = read_yaml(path, name)
        problems.extend(found)
        if data is None:
            continue
        kind = data.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            mark = data.value_marks.get("kind", data.mark)
            message: Wordable
            hint: Wordable
            if kind is None:
                message = phrase("missing 'kind'")
                hint = phrase("start the file with one of: {kinds}", kinds=joined(KINDS))
            else:
                message = phrase("unknown kind {kind!r}", kind=kind)
                hint = suggest(str(kind), KINDS) or phrase("use one of: {kinds}",
                                                           kinds=joined(KINDS))
            problems.append(_problem(mark, "E101", ["kind"], message, hint))
            continue
        key = _document_key(kind, data)
        if key is None:
            problems.append(_problem(data.mark, "E102", ["id"],
                                     phrase("a {kind} file needs an 'id'", kind=kind),
                                     phrase("add 'id: <name>'")))
            continue
        if (kind, key) in documents:
            first = documents[(kind, key)].files[0]
            what = (phrase("a second {kind} file", kind=kind) if kind in SINGLETON_KINDS
                    else phrase("{kind} {key!r} again", kind=kind, key=key))
            problems.append(_problem(data.mark, "E103", [],
                                     phrase("{what} (first in {first})", what=what, first=first),
                                     phrase("keep one file per definition, or merge them")))
            continue
        documents[(kind, key)] = Document(kind, key, data, [name])
    return documents


def collect(root: Path, bases: Mapping[str, Path] | None = None) -> SetSources:
    """Read a definition set and every set it extends, merged into one set of documents.

    ``bases``, for a set from outside the server, are the sets it may extend, by the names the
    server lists them under (``default``, ``examples/kangning``): its ``extends`` must name one
    of them, and leading ``../`` are ignored, so the path that works in the consultant's
    repository (``../default``) works in the upload too.
    """
    sources = SetSources(root)
    _collect_into(root, sources, [], bases)
    return sources


def _offered_base(extends: str, mark: Mark, bases: Mapping[str, Path],
                  problems: list[Problem]) -> Path | None:
    parts = PurePosixPath(extends.replace("\\", "/")).parts
    while parts and parts[0] == "..":
        parts = parts[1:]
    name = "/".join(parts)
    if name in bases and not PurePosixPath(extends).is_absolute():
        return bases[name]
    offered = joined(sorted(bases)) if bases else phrase("none")
    hint = suggest(name, bases) or phrase("the sets this server offers: {offered}",
                                          offered=offered)
    problems.append(_problem(mark, "E112", ["extends"],
                             phrase("{extends!r} is not a set this server offers: a set from "
                                    "outside the server may extend only one of the server's "
                                    "sets", extends=extends), hint))
    return None


def _collect_into(folder: Path, sources: SetSources, stack: list[Path],
                  bases: Mapping[str, Path] | None = None) -> dict[tuple[str, str], Document]:
    resolved = folder.resolve()
    if not resolved.is_dir():
        sources.problems.append(Problem.of(display_name(folder), 1, 1, "E104", "$",
                                           phrase("no such definition folder"),
                                           phrase("give the folder that holds set.yaml")))
        return {}
    stack = [*stack, resolved]
    sources.folders.append(resolved)
    documents = _read_folder(resolved, sources.problems)
    manifest = documents.get(("definition-set", "definition-set"))
    if manifest is None:
        if not any(p.code.startswith("Y") for p in sources.problems):
            sources.problems.append(Problem.of(
                display_name(resolved / MANIFEST), 1, 1, "E105", "$",
                phrase("the folder has no definition-set manifest"),
                phrase("add set.yaml with 'kind: definition-set'")))
        sources.documents = documents
        return documents
    extends = manifest.data.get("extends")
    if isinstance(extends, str):
        mark = manifest.data.value_marks["extends"]
        if bases is not None:  # from outside the server: only the sets it offers
            offered = _offered_base(extends, mark, bases, sources.problems)
            if offered is None:
                sources.documents = documents
                return documents
            base_folder = offered.resolve()
        else:
            base_folder = (resolved / extends).resolve()
        if base_folder in stack:
            cycle = " -> ".join(display_name(p) for p in [*stack, base_folder])
            sources.problems.append(_problem(mark, "E106", ["extends"],
                                             phrase("'extends' makes a cycle: {cycle}",
                                                    cycle=cycle),
                                             phrase("a set may only extend a set that does not "
                                                    "extend it")))
        elif not (base_folder / MANIFEST).is_file():
            sources.problems.append(_problem(
                mark, "E107", ["extends"],
                phrase("the base set {extends!r} does not exist (looked for {file})",
                       extends=extends, file=display_name(base_folder / MANIFEST)),
                phrase("give the path of the base set's folder, relative to this set")))
        else:
            base = _collect_into(base_folder, sources, stack)
            documents = _overlay_documents(base, documents, sources.problems)
    sources.documents = documents
    return documents


def _overlay_documents(base: dict[tuple[str, str], Document],
                       child: dict[tuple[str, str], Document],
                       problems: list[Problem]) -> dict[tuple[str, str], Document]:
    merged = dict(base)
    for key, doc in child.items():
        if key[0] == "definition-set":
            # The manifest is the child's own; only its identity matters.
            merged[key] = doc
            continue
        if key in base:
            data = merge_maps(base[key].data, doc.data, [], problems)
            merged[key] = Document(doc.kind, doc.key, data, [*base[key].files, *doc.files])
        else:
            merged[key] = Document(doc.kind, doc.key, _strip_ops(doc.data, [], problems, True),
                                   doc.files)
    return merged


def _is_keyed_list(value: Any) -> bool:
    return isinstance(value, YSeq) and bool(value) and all(
        isinstance(item, YMap) and isinstance(item.get("id"), str) for item in value)


def merge_maps(base: YMap, overlay: YMap, path: list[str | int],
               problems: list[Problem]) -> YMap:
    """Merge ``overlay`` into ``base`` (neither is changed); see the module docstring."""
    result = YMap(base.mark)
    for key, value in base.items():
        result.put(key, value, base.key_marks[key], base.value_marks[key], base.notes.get(key))
    for key, value in overlay.items():
        if key == "op":
            continue
        here = [*path, key]
        if key in base and isinstance(base[key], YMap) and isinstance(value, YMap):
            value = merge_maps(base[key], value, here, problems)
        elif key in base and _is_keyed_list(base[key]) and isinstance(value, YSeq):
            value = _merge_keyed(base[key], value, here, problems)
        else:
            value = _strip_ops(value, here, problems, in_new_item=True)
        result.put(key, value, overlay.key_marks[key], overlay.value_marks[key],
                   overlay.notes.get(key))
    return result


def _merge_keyed(base: YSeq, overlay: YSeq, path: list[str | int],
                 problems: list[Problem]) -> YSeq:
    items: dict[str, tuple[Any, Mark]] = {
        item["id"]: (item, mark) for item, mark in zip(base, base.item_marks, strict=True)}
    order = list(items)
    for index, item in enumerate(overlay):
        mark = overlay.item_marks[index]
        here = [*path, index]
        if not isinstance(item, YMap) or not isinstance(item.get("id"), str):
            problems.append(_problem(mark, "E108", here,
                                     phrase("an item of this list needs an 'id' to say which "
                                            "base item it changes"),
                                     phrase("add 'id: <id of the base item>'")))
            continue
        ident = item["id"]
        op = item.get("op", "merge")
        if op not in OPS:
            continue  # the schema reports the bad value
        op_mark = item.value_marks.get("op", mark)
        if op == "add":
            if ident in items:
                problems.append(_problem(op_mark, "E109", [*here, "op"],
                                         phrase("'{ident}' already exists in the base",
                                                ident=ident),
                                         phrase("drop 'op: add' to change it, or choose a new "
                                                "id")))
                continue
            items[ident] = (_strip_ops(item, here, problems, True, top=True), mark)
            order.append(ident)
            continue
        if ident not in items:
            problems.append(_problem(
                item.value_marks["id"], "E110", [*here, "id"],
                phrase("override names nothing in the base: no item '{ident}' here",
                       ident=ident),
                suggest(ident, items) or phrase("write 'op: add' to add a new item")))
            continue
        if op == "remove":
            del items[ident]
            order.remove(ident)
        elif op == "replace":
            items[ident] = (_strip_ops(item, here, problems, True, top=True), mark)
        else:
            items[ident] = (merge_maps(items[ident][0], item, here, problems), mark)
    result = YSeq(base.mark)
    for ident in order:
        value, mark = items[ident]
        result.push(value, mark, None)
    return result


def _strip_ops(value: Any, path: list[str | int], problems: list[Problem],
               in_new_item: bool, top: bool = False) -> Any:
    """Copy ``value`` without ``op`` keys; inside new items only 'add' makes sense.

    ``top`` marks the item an ``op`` was just applied to: its own ``op`` is the one obeyed.
    """
    if isinstance(value, YMap):
        result = YMap(value.mark)
        for key, child in value.items():
            if key == "op":
                if (in_new_item and not top and child not in ("add", None)
                        and child in OPS):
                    problems.append(_problem(
                        value.value_marks[key], "E111", [*path, "op"],
                        phrase("'op: {op}' inside an item that is not in the base", op=child),
                        phrase("only 'op: add' or no 'op' makes sense in a new definition")))
                continue
            result.put(key, _strip_ops(child, [*path, key], problems, in_new_item),
                       value.key_marks[key], value.value_marks[key], value.notes.get(key))
        return result
    if isinstance(value, YSeq):
        seq = YSeq(value.mark)
        for index, item in enumerate(value):
            seq.push(_strip_ops(item, [*path, index], problems, in_new_item),
                     value.item_marks[index], value.notes.get(index))
        return seq
    return value
