"""Record every engine result over every scenario, to prove a speed change changes nothing.

Runs each scenario under ``scenarios/`` (the bundled definitions and the example client sets
they name) and writes, for every engine call the scenario makes (``start``, ``apply``,
``open_linked``, ``escalate``): its arguments, its outcome (the new case, every event, or the
refusal with its reasons), then for the case it leaves, the steps each scenario user may take
(``available``, with the reasons for the others) and the context an expression reads. Values
keep their order (a case's value order is part of what it is); sets are written sorted.

Run it with ``PYTHONHASHSEED=0`` before a change and after it, and compare the two files:
they must be byte-identical.

Run: PYTHONHASHSEED=0 .venv/bin/python bench/engine_record.py /tmp/engine_before.txt
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from qmsflow.engine import machine, scenario
from qmsflow.engine.cases import Actor, Case
from qmsflow.engine.model import DefinitionSet

ROOT = Path(__file__).resolve().parents[1]


SORT_MAPS = False  # --sorted-maps: compare contents only, whatever the order of a mapping


def dump(value: Any) -> Any:
    """``value`` as plain, ordered data: dataclasses as dicts, sets sorted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"@": type(value).__name__,
                **{f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)
                   if f.name != "_compiled"}}
    if isinstance(value, Mapping):
        pairs = [(dump(k), dump(v)) for k, v in value.items()]
        return {"@map": sorted(pairs, key=repr) if SORT_MAPS else pairs}
    if isinstance(value, set | frozenset):
        return {"@set": sorted((dump(v) for v in value), key=repr)}
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    if isinstance(value, machine.Refused):
        return {"@refused": [value.step, value.state, dump(value.reasons), str(value)]}
    return value


class Recorder:
    """Wraps the engine functions a scenario calls and writes what they return."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.definition: DefinitionSet | None = None
        self.actors: list[Actor] = []

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            definition = args[0]
            self.out(f"CALL {name} {dump(args[1:])!r} {dump(kwargs)!r}")
            try:
                result = function(*args, **kwargs)
            except Exception as error:
                self.out(f"RAISED {type(error).__name__} {dump(error)!r}")
                raise
            self.out(f"RESULT {dump(result)!r}")
            outcome = result[0] if isinstance(result, tuple) else result
            now = args[5] if name in ("start", "apply") else args[-2] if name == "open_linked" \
                else args[2]
            self.after(definition, outcome.case, now)
            return result
        return call

    def after(self, definition: DefinitionSet, case: Case, now: Any) -> None:
        process = definition.process(case.process)
        view = machine.CaseView(process, case.values, case, now=now)
        self.out(f"CONTEXT {dump(dict(view))!r}")
        plain = machine.context(process, case.values, case, now=now)
        self.out(f"CONTEXT-DICT {dump(plain)!r}")
        for actor in self.actors:
            steps = machine.available(definition, case, actor, now)
            self.out(f"AVAILABLE {actor.id} {dump(steps)!r}")


def record(out: Callable[[str], None]) -> int:
    """Run every scenario with the engine wrapped; the number of scenarios that fail."""
    recorder = Recorder(out)
    names = ("start", "apply", "open_linked", "escalate")
    originals = {name: getattr(scenario, name) for name in names}
    original_run = scenario._Run.__init__

    def init(self: Any, definition: DefinitionSet, data: Mapping[str, Any], *args: Any,
             **kwargs: Any) -> None:
        original_run(self, definition, data, *args, **kwargs)
        recorder.actors = sorted(self.users.values(), key=lambda a: a.id)

    failed = 0
    try:
        for name in names:
            setattr(scenario, name, recorder.wrap(name, originals[name]))
        scenario._Run.__init__ = init  # type: ignore[method-assign]
        for path in sorted((ROOT / "scenarios").glob("*.yaml")):
            out(f"SCENARIO {path.name}")
            result = scenario.run(path)
            out(f"OK {result.ok} {[(s.summary, s.failures) for s in result.steps]!r}")
            failed += not result.ok
    finally:
        for name in names:
            setattr(scenario, name, originals[name])
        scenario._Run.__init__ = original_run  # type: ignore[method-assign]
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("output", type=Path, help="file to write (outside the repository)")
    parser.add_argument("--sorted-maps", action="store_true",
                        help="write mappings sorted (to compare contents across an order change)")
    args = parser.parse_args()
    global SORT_MAPS
    SORT_MAPS = args.sorted_maps
    with args.output.open("w", encoding="utf-8") as handle:
        failed = record(lambda line: handle.write(line + "\n"))
    print(f"wrote {args.output}; {failed} scenario(s) failing")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
