"""Definition problems: one shape for YAML, schema and semantic errors.

Every problem carries a location (file, 1-based line and column), the JSON path of the node it
concerns, a stable code that tools and the bad-input corpus match on, a message saying what is
wrong and, where one helps, a hint saying how to fix it.

The message and the hint are English (what ``qmsflow validate`` prints, byte for byte). Beside
them a problem keeps the same words as a :class:`Phrase`: an English template with named
parameters, so the web editor can say the whole problem in the reader's language. Templates are
marked with :func:`phrase`, the keyword ``make translations`` extracts from the engine.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import QmsflowError


@dataclass(frozen=True)
class Phrase:
    """Words with a translatable template: ``str()`` is the English text.

    ``template`` uses ``str.format`` fields (``"unknown {what} '{name}'"``); a parameter that is
    itself a :class:`Phrase` (a kind of thing, "a mapping") is translated too, anything else (ids,
    names and values the author typed) is shown as it is.
    """

    template: str
    params: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        return self.render(_as_is)

    def render(self, translate: Callable[[str], str]) -> str:
        """The words in the language of ``translate`` (English template -> translated one);
        a translation that does not fit its parameters falls back to English."""
        values = {name: value.render(translate) if isinstance(value, Phrase) else value
                  for name, value in self.params}
        try:
            return translate(self.template).format(**values)
        except (KeyError, IndexError, ValueError):
            return self.template.format(**values)


def _as_is(template: str) -> str:
    return template


def phrase(template: str, /, **params: Any) -> Phrase:
    """Mark ``template`` for translation and fill it with ``params`` (see :class:`Phrase`).

    Babel extracts the first argument of every call, so ``template`` must be a plain literal."""
    return Phrase(template, tuple(params.items()))


def joined(items: Iterable[Any], separator: str = ", ") -> Phrase:
    """Typed names in a list, shown as they are (never translated): 'a, b, c'."""
    return Phrase("{items}", (("items", separator.join(str(item) for item in items)),))


Wordable = str | Phrase


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
    # The same words, translatable; None for a problem worded in English only.
    words: Phrase | None = field(default=None, compare=False, repr=False)
    hint_words: Phrase | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, file: str, line: int, column: int, code: str, path: str,
           message: Wordable, hint: Wordable | None = None) -> Problem:
        """A problem worded by ``message`` and ``hint``, each text or a :class:`Phrase`."""
        return cls(file, line, column, code, path, str(message),
                   None if hint is None else str(hint),
                   message if isinstance(message, Phrase) else None,
                   hint if isinstance(hint, Phrase) else None)

    def said(self, translate: Callable[[str], str]) -> tuple[str, str | None]:
        """Message and hint in the language of ``translate``; English where not translatable."""
        message = self.words.render(translate) if self.words is not None else self.message
        if self.hint is None:
            return message, None
        hint = self.hint_words.render(translate) if self.hint_words is not None else self.hint
        return message, hint

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


def a_field(kind: str) -> Phrase:
    """'an integer field' (the field type as the definitions spell it), translatable."""
    article = with_article(kind)[: -len(kind) - 1]
    return phrase("{a} {kind} field", a=article, kind=kind)


#: The kinds of things a definition names, translatable where a message says which one.
_NOUNS: dict[str, Phrase] = {
    "state": phrase("state"), "role": phrase("role"), "field": phrase("field"),
    "step": phrase("step"), "clock": phrase("clock"), "form": phrase("form"),
    "process": phrase("process"), "calendar": phrase("calendar"),
    "department": phrase("department"), "flag": phrase("flag"),
    "priority": phrase("priority"), "template": phrase("template"),
    "notification template": phrase("notification template"), "survey": phrase("survey"),
    "relation": phrase("relation"), "report": phrase("report"), "section": phrase("section"),
    "form section": phrase("form section"), "tier": phrase("tier"),
    "variant": phrase("variant"), "column": phrase("column"), "period": phrase("period"),
    "authority": phrase("authority"), "authority matrix": phrase("authority matrix"),
    "rule": phrase("rule"), "category": phrase("category"), "choice": phrase("choice"),
    "transition": phrase("transition"), "locale": phrase("locale"),
    "measure": phrase("measure"), "dimension": phrase("dimension"),
    "register": phrase("register"),
}


def noun(what: str) -> Phrase:
    """The kind of thing ``what`` as translatable words (shown as it is when not known)."""
    return _NOUNS.get(what) or Phrase(what)


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """A hint naming the closest known name, or None when nothing is close."""
    found = suggest(name, known)
    return None if found is None else str(found)


def suggest(name: str, known: Iterable[str]) -> Phrase | None:
    """:func:`did_you_mean` as translatable words."""
    matches = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return phrase("did you mean '{name}'?", name=matches[0]) if matches else None


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
