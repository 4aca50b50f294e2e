"""``qmsflow report``: the reports of the served definition set, from the command line.

``qmsflow report monthly --month 2026-10 --format xlsx`` writes the same Excel file as the web
page's download (through :mod:`qmsflow.web.reports.export`); ``--format csv`` and ``--format
text`` print to standard output unless ``--output`` names a file. The database and the
definition set come from the settings, as for every database command. A bad month, an unknown
report or locale is a usage error (exit status 2) naming what would be valid.
"""

from __future__ import annotations

import difflib
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations

from qmsflow import web
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import reports
from qmsflow.web.reports.export import csv_bytes, report_views, text_report, workbook_bytes
from qmsflow.web.reports.tables import MonthError, Translate, parse_month, previous_month

from .common import friendly, runtime

TRANSLATIONS = Path(web.__file__).parent / "translations"
FORMATS = ("text", "xlsx", "csv")


@click.group("report")
def cli() -> None:
    """Reports of the served definitions: the monthly statistics and KPIs."""


@cli.command("monthly")
@click.option("--month", "month_text", metavar="YYYY-MM",
              help="The month (default: the previous month, in the organisation's time zone).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text for a terminal, xlsx for Excel (a sheet per report), csv.")
@click.option("--report", "report_ids", multiple=True, metavar="ID",
              help="Only this report; repeat for several (default: every report).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output; for xlsx a file named after "
                   "the set and the month).")
@click.option("--locale", "locale_tag", metavar="TAG",
              help="Language of the labels, e.g. zh-CN or en (default: the organisation's "
                   "first).")
@friendly
def monthly(month_text: str | None, fmt: str, report_ids: tuple[str, ...],
            output: Path | None, locale_tag: str | None) -> None:
    """The month's reports (default: every report, for the previous month)."""
    rt = runtime()
    definition = rt.definition
    period = _month(definition, month_text)
    wanted = _reports(definition, report_ids)
    locale = _locale(definition, locale_tag)
    translate = _translations(locale)
    views = report_views(rt.sessions, definition, period, wanted, locale, translate)
    if fmt == "text":
        data = text_report(views, translate).encode("utf-8")
    elif fmt == "csv":
        data = csv_bytes(views, translate)
    else:
        data = workbook_bytes(views, translate)
        output = output or Path(f"{definition.id}-reports-{period}.xlsx")
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    output.write_bytes(data)
    click.echo(f"{output}: {', '.join(wanted)} for {period}", err=True)


def _month(definition: DefinitionSet, text: str | None) -> reports.Period:
    if not text:
        zone = ZoneInfo(definition.organisation.timezone)
        return previous_month(datetime.now(UTC).astimezone(zone).date())
    try:
        return parse_month(text)
    except MonthError as error:
        raise click.BadParameter(str(error), param_hint="--month") from None


def _reports(definition: DefinitionSet, asked: tuple[str, ...]) -> list[str]:
    known = list(definition.reports)
    if not known:
        raise click.UsageError(f"the definition set {definition.id!r} declares no report")
    for name in asked:
        if name not in definition.reports:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise click.BadParameter(f"no report {name!r}{hint}; the reports are: "
                                     f"{', '.join(known)}", param_hint="--report")
    return list(dict.fromkeys(asked)) or known


def _locale(definition: DefinitionSet, tag: str | None) -> str:
    known = definition.organisation.locales
    if tag is None:
        return known[0]
    if tag not in known:
        raise click.BadParameter(f"{tag!r} is not a locale of the organisation; use one of: "
                                 f"{', '.join(known)}", param_hint="--locale")
    return tag


def _translations(locale: str) -> Translate:
    """The UI words of the web page's catalog, in ``locale`` (English when it has none)."""
    try:
        parsed = Locale.parse(locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return NullTranslations().gettext
    found = Translations.load(str(TRANSLATIONS), [parsed])
    return found.gettext
