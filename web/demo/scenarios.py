"""The bundled scenarios the demo replays: where they are found, which ones fit the served set,
and when each of their steps happens as written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.schemas import validate
from qmsflow.engine.yamlsource import read_yaml


@dataclass(frozen=True)
class Scenario:
    """A bundled scenario as the demo replays it."""

    file: Path
    data: Mapping[str, Any]
    times: tuple[datetime, ...]  # when each step happens, as written

    @property
    def steps(self) -> Sequence[Mapping[str, Any]]:
        return self.data["steps"]  # type: ignore[no-any-return]


def parse_moment(text_value: str) -> datetime:
    """A scenario's date and time, which must carry its UTC offset."""
    moment = datetime.fromisoformat(text_value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text_value!r} has no UTC offset")
    return moment


def _timeline(data: Mapping[str, Any]) -> tuple[datetime, ...]:
    """When each step happens, the way the scenario runner counts it."""
    now = parse_moment(data["start"])
    times = []
    for step in data["steps"]:
        if "at" in step:
            now = parse_moment(step["at"])
        if "advance" in step:
            span = step["advance"]
            now += timedelta(days=span.get("days", 0), hours=span.get("hours", 0),
                             minutes=span.get("minutes", 0))
        times.append(now)
    return tuple(times)


def scenario_files(definitions: Path) -> list[Path]:
    """Scenario files that may run on the set at ``definitions``: ``scenarios/`` folders beside
    it or beside any folder above it (the repository layout), and under the current folder."""
    folders = [parent / "scenarios" for parent in definitions.resolve().parents]
    folders.append(Path("scenarios").resolve())
    seen: dict[Path, None] = {}
    for folder in folders:
        if folder.is_dir():
            for file in sorted(folder.glob("*.yaml")):
                seen.setdefault(file.resolve(), None)
    return list(seen)


def read_scenarios(definition: DefinitionSet, root: Path, files: Sequence[Path],
                   skipped: list[str]) -> list[Scenario]:
    """The scenarios among ``files`` that name the served set, checked like ``simulate`` does."""
    found = []
    served = root.resolve()
    known_roles = set(definition.organisation.roles)
    for file in files:
        data, problems = read_yaml(file, file.name)
        if data is None or problems or data.get("kind") != "scenario":
            continue  # not a scenario, or a broken one: 'qmsflow simulate' reports those
        if (file.parent / str(data.get("definitions", ""))).resolve() != served:
            continue  # written for another definition set
        if validate("scenario", data):
            skipped.append(f"{file.name}: not a valid scenario (see 'qmsflow simulate')")
            continue
        unknown = {r for u in data["users"] for r in u["roles"]} - known_roles
        if unknown:
            skipped.append(f"{file.name}: roles {', '.join(sorted(unknown))} are not in the "
                           "organisation")
            continue
        try:
            found.append(Scenario(file, data, _timeline(data)))
        except (ValueError, TypeError) as error:
            skipped.append(f"{file.name}: {error}")
    return found
