"""The one-update constructor of the engine's frozen dataclasses keeps what the dataclass gave."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from qmsflow.engine.frozen import evolve, quick_init


@dataclass(frozen=True)
class Plain:
    name: str
    tags: tuple[str, ...] = ()
    seen: list[str] = field(default_factory=list)


@quick_init
@dataclass(frozen=True)
class Quick:
    name: str
    tags: tuple[str, ...] = ()
    seen: list[str] = field(default_factory=list)


def test_a_quick_object_holds_the_values_defaults_and_fresh_factory_values_the_dataclass_would(
        ) -> None:
    assert vars(Quick("a")) == vars(Plain("a"))
    assert vars(Quick("a", ("x",), ["y"])) == vars(Plain("a", ("x",), ["y"]))
    assert vars(Quick(name="a", seen=["y"])) == vars(Plain(name="a", seen=["y"]))
    first, second = Quick("a"), Quick("a")
    assert first.seen is not second.seen  # each object its own list, as default_factory gives


def test_a_quick_object_stays_frozen_equal_and_hashable() -> None:
    made = Quick("a", ("x",), [])
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.name = "b"  # type: ignore[misc]
    assert made == Quick("a", ("x",), [])
    assert made != Quick("b", ("x",), [])


def test_a_quick_constructor_refuses_what_the_dataclass_refuses() -> None:
    with pytest.raises(TypeError):
        Quick()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Quick("a", unknown=1)  # type: ignore[call-arg]


def test_a_class_the_quick_constructor_cannot_serve_is_refused() -> None:
    @dataclass(frozen=True)
    class Checked:
        name: str

        def __post_init__(self) -> None:
            pass

    @dataclass
    class Mutable:
        name: str

    with pytest.raises(TypeError, match="__post_init__"):
        quick_init(Checked)
    with pytest.raises(TypeError, match="frozen"):
        quick_init(Mutable)


def test_evolve_changes_the_named_fields_only_and_refuses_an_unknown_one() -> None:
    made = Quick("a", ("x",), ["y"])
    changed = evolve(made, tags=("z",))
    assert vars(changed) == {"name": "a", "tags": ("z",), "seen": ["y"]}
    assert made.tags == ("x",)
    with pytest.raises(TypeError):
        evolve(made, colour="red")
