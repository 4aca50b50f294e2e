"""Definition problems: one shape for YAML, schema and semantic errors.

Every problem carries a location (file, 1-based line and column), the JSON path of the node it
concerns, a stable code that tools and the bad-input corpus match on, a message saying what is
wrong and, where one helps, a hint saying how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import QmsflowError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition set, printed as one line."""

    file: str
    line: int
    column: int
    code: str
    path: str = "$"
    # Part of equality: two different problems at one place are two lines, never merged.
    message: str = ""
    hint: str | None = None

    def _key(self) -> tuple[str, int, int, str, str, str, str]:
        return (self.file, self.line, self.column, self.code, self.path, self.message,
                self.hint or "")

    def __lt__(self, other: Problem) -> bool:
        """Problems sort by file, line, column, code, path, then wording."""
        return self._key() < other._key()

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.code} {self.path}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def as_dict(self) -> dict[str, object]:
        """Plain data for ``--format json``."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class DefinitionError(QmsflowError):
    """A definition set that cannot be used; carries every problem found, sorted."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(set(problems)))
        super().__init__("\n".join(str(p) for p in self.problems))


def with_article(word: str) -> str:
    """``word`` after 'a' or 'an' as it is said: 'an amount field', 'a user field', 'a yes/no
    field', 'an e-mail field'."""
    first = word[:1].lower()
    # A 'u' said 'you' (user, unique) takes 'a'; other vowels take 'an'.
    vowel = first in "aeio" or (first == "u" and not word.lower().startswith(
        ("us", "uni", "uti", "ur")))
    return f"{'an' if vowel else 'a'} {word}"


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """A hint naming the closest known name, or None when nothing is close."""
    matches = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def json_path(parts: Sequence[str | int]) -> str:
    """Render a path as JSONPath, e.g. ``$.states[2].id``."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier():
            text += f".{part}"
        else:
            text += f"[{part!r}]"
    return text
