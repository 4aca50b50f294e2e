"""One error model: every exception qmsflow defines is a QmsflowError, and no two classes of the
package share a name (so an import or a traceback names one thing)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict
from types import ModuleType

import pytest

from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.machine import Reason, Refused

PACKAGES = ("qmsflow.engine", "qmsflow.forms", "qmsflow.web", "qmsflow.cli", "qmsflow.settings")

# Exceptions that cannot derive from QmsflowError yet, each with the reason. An entry must name
# a class that still exists and still does not derive (the test below fails on a stale entry).
NOT_YET: dict[str, str] = {}

# Classes that may share their name with another class of the package, each with the reason.
SHARED_NAMES: dict[str, str] = {}


def _modules() -> list[ModuleType]:
    found = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        found.append(package)
        for info in pkgutil.walk_packages(getattr(package, "__path__", ()), prefix=f"{name}."):
            if ".migrations" in info.name or info.name.endswith(".__main__"):
                # Alembic runs its scripts by path, and importing __main__ runs the command;
                # neither defines classes of ours.
                continue
            found.append(importlib.import_module(info.name))
    return found


def _classes() -> list[type]:
    """Each class defined in the package once (an alias of it in its own module is not two)."""
    found = {value: None for module in _modules() for value in vars(module).values()
             if inspect.isclass(value) and value.__module__ == module.__name__}
    return list(found)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _exceptions() -> list[type[BaseException]]:
    return [cls for cls in _classes() if issubclass(cls, BaseException)]


def test_the_walk_finds_the_exceptions_of_every_layer() -> None:
    found = {_qualified(cls) for cls in _exceptions()}
    assert {"qmsflow.engine.machine.Refused", "qmsflow.engine.persistence.service.CaseNotFound",
            "qmsflow.web.api.problems.ApiProblem", "qmsflow.web.uploads.UploadRefused"} <= found


def test_every_exception_class_of_the_package_derives_from_qmsflow_error() -> None:
    strays = sorted(_qualified(cls) for cls in _exceptions()
                    if not issubclass(cls, QmsflowError) and _qualified(cls) not in NOT_YET)
    assert strays == []


def test_every_class_excused_from_qmsflow_error_still_needs_the_excuse() -> None:
    excused = {_qualified(cls): cls for cls in _exceptions() if _qualified(cls) in NOT_YET}
    assert [name for name, cls in excused.items() if issubclass(cls, QmsflowError)] == []


def test_no_two_classes_of_the_package_share_a_name() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for cls in _classes():
        where[cls.__name__].append(cls.__module__)
    shared = {name: sorted(modules) for name, modules in where.items()
              if len(modules) > 1 and name not in SHARED_NAMES}
    assert shared == {}


@pytest.mark.parametrize("name", ["Problem", "UploadRefused", "NotFound"])
def test_a_name_that_once_meant_two_things_now_means_at_most_one(name: str) -> None:
    assert len([cls for cls in _classes() if cls.__name__ == name]) <= 1


def test_an_error_keeps_the_built_in_base_its_callers_catch() -> None:
    from qmsflow.engine.persistence.db import DatabaseUrlError
    from qmsflow.engine.persistence.service import CaseNotFound
    from qmsflow.web.uploads import UploadRefused

    assert issubclass(DatabaseUrlError, ValueError)
    assert issubclass(CaseNotFound, LookupError)
    assert issubclass(UploadRefused, ValueError)


def test_a_qmsflow_error_stops_the_command_line_with_status_one_unless_it_says_otherwise(
        ) -> None:
    assert QmsflowError.exit_code == 1
    assert all(cls.exit_code >= 1 for cls in _exceptions() if issubclass(cls, QmsflowError))


def test_a_refusal_of_every_step_names_no_step_and_reads_as_before() -> None:
    refused = Refused.any_step([Reason("user", "user 'nobody' does not exist")])
    assert refused.step is None and refused.state is None
    assert str(refused) == "'(any)' refused: user 'nobody' does not exist"


def test_a_refusal_of_one_step_names_it() -> None:
    refused = Refused("close", "open", [Reason("role", "only quality may close")])
    assert refused.step == "close"
    assert str(refused) == "'close' refused in state 'open': only quality may close"
