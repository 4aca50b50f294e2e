"""Reports as files and text: Excel (a sheet per report), CSV and plain text for a terminal.

The web page's downloads and ``qmsflow report monthly`` both come through here, so a file
from either says the same. :func:`report_views` runs the reports (one query each) and labels
them; the writers only lay the labelled tables out.

Excel: a bold header row per table, percentages, counts and amounts as numbers with number
formats (so they can be summed and charted), red and green fills against the targets, column
widths that fit Chinese labels, and a print set-up for A4 landscape fitted to the page width,
with the title and period in the page header and the first table's header repeated on every
page. CSV: UTF-8 with a byte-order mark, so that Excel opens Chinese correctly; the tables one
after the other, each with its title.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import Sessions, overview, reports

from .tables import Cell, ReportView, Table, Translate, people_ids, view

__all__ = ["csv_bytes", "report_views", "text_report", "workbook_bytes"]

NUMBER_FORMATS = {"percent": "0.0%", "count": "#,##0", "money": "#,##0.00",
                  "hours": "#,##0.0", "number": "#,##0.##"}
MET = PatternFill("solid", start_color="C6EFCE", end_color="C6EFCE")  # Excel's own "good"
MISSED = PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")  # and "bad"
HEADER_FILL = PatternFill("solid", start_color="E7E6E6", end_color="E7E6E6")
THIN = Side(style="thin", color="999999")
GRID = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
# Characters Excel refuses in a sheet name.
_SHEET_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


def report_views(sessions: Sessions, definition: DefinitionSet, period: reports.Period,
                 report_ids: Sequence[str], locale: str, _: Translate) -> list[ReportView]:
    """Run ``report_ids`` for ``period`` (each for the month, quarter or year that starts it)
    and label them in ``locale``; users are shown by name."""
    with sessions() as session:
        results = reports.run_reports(session, definition, period, report_ids)
        ids = people_ids(definition, results)
        people = {user.id: user.name for user in overview.users_by_id(session, ids).values()
                  } if ids else {}
    return [view(definition, definition.reports[r.report], r, locale, _, people)
            for r in results]


# -- Excel --------------------------------------------------------------------------------------

def workbook_bytes(views: Sequence[ReportView], _: Translate) -> bytes:
    """An .xlsx file with a sheet per report."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    names: set[str] = set()
    for report in views:
        sheet = book.create_sheet(_sheet_name(report.title, names))
        _fill_sheet(sheet, report, _)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_name(title: str, taken: set[str]) -> str:
    base = title.translate(_SHEET_FORBIDDEN).strip()[:28] or "report"
    name, number = base, 2
    while name.lower() in taken:
        name, number = f"{base[:25]} ({number})", number + 1
    taken.add(name.lower())
    return name


def _fill_sheet(sheet: Worksheet, report: ReportView, _: Translate) -> None:
    heading = _period_line(report, _)
    sheet.append([report.title])
    sheet.cell(1, 1).font = Font(bold=True, size=14)
    sheet.append([heading])
    widths: dict[int, float] = {1: _width(report.title) * 0.8}
    first_header: int | None = None
    for table in report.tables:
        sheet.append([])
        sheet.append([table.title])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12)
        sheet.append(list(table.header))
        header_row = sheet.max_row
        first_header = first_header or header_row
        for column, title in enumerate(table.header, start=1):
            cell = sheet.cell(header_row, column)
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            cell.border = GRID
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            # Headers wrap: they need not set the width alone.
            widths[column] = max(widths.get(column, 0), min(_width(title), 24))
        for index, row in enumerate(table.rows):
            total = table.total_row and index == len(table.rows) - 1
            sheet.append([_excel_value(cell) for cell in row])
            for column, found in enumerate(row, start=1):
                cell = sheet.cell(sheet.max_row, column)
                cell.border = GRID
                if found.format in NUMBER_FORMATS and found.value is not None:
                    cell.number_format = NUMBER_FORMATS[found.format]
                if found.verdict is not None:
                    cell.fill = MET if found.verdict == "met" else MISSED
                if total:
                    cell.font = Font(bold=True)
                widths[column] = max(widths.get(column, 0), _width(found.text))
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(max(width + 2, 8), 60)
    setup = sheet.page_setup
    setup.paperSize = sheet.PAPERSIZE_A4
    setup.orientation = sheet.ORIENTATION_LANDSCAPE
    setup.fitToWidth = 1
    setup.fitToHeight = 0  # as many pages down as it takes
    # openpyxl makes the page set-up properties, header and footer of every new sheet; its type
    # hints allow None for them all the same.
    fit = sheet.sheet_properties.pageSetUpPr
    header, footer = sheet.oddHeader, sheet.oddFooter
    assert fit is not None and header is not None and footer is not None
    fit.fitToPage = True
    sheet.print_options.horizontalCentered = True
    if first_header is not None:
        sheet.print_title_rows = f"{first_header}:{first_header}"
    header.center.text = f"{report.title} · {report.period}"
    header.center.size = 11
    footer.right.text = "&P / &N"


def _excel_value(cell: Cell) -> object:
    if cell.format == "text" or cell.value is None:
        return cell.text
    value = cell.value
    return float(value) if cell.format in ("percent", "money", "hours", "number") and not \
        isinstance(value, int) else value


def _width(text: str) -> float:
    """How wide ``text`` is in Excel's character units (East Asian characters count two)."""
    return float(sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text))


def _period_line(report: ReportView, _: Translate) -> str:
    parts = [_("Period: %(period)s") % {"period": report.period}]
    if report.previous:
        parts.append(_("compared with %(previous)s") % {"previous": report.previous})
    if report.due:
        parts.append(_("due by %(date)s") % {"date": report.due.isoformat()})
    return "; ".join(parts)


# -- CSV ----------------------------------------------------------------------------------------

def csv_bytes(views: Sequence[ReportView], _: Translate) -> bytes:
    """A CSV file: for each report its title and period, then each table with its title."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for number, report in enumerate(views):
        if number:
            writer.writerow([])
        writer.writerow([report.title])
        writer.writerow([_period_line(report, _)])
        for table in report.tables:
            writer.writerow([])
            writer.writerow([table.title])
            writer.writerow(table.header)
            writer.writerows([_csv_value(cell) for cell in row] for row in table.rows)
    # The byte-order mark tells Excel the file is UTF-8 (it guesses the ANSI code page else).
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_value(cell: Cell) -> str:
    if cell.format in ("percent", "money", "hours", "number", "count") and cell.value is not None:
        # Plain numbers that any program reads; percentages as fractions, like Excel's.
        return str(cell.value)
    return cell.text


# -- text ---------------------------------------------------------------------------------------

def text_report(views: Sequence[ReportView], _: Translate) -> str:
    """The reports as aligned text tables, for a terminal or an e-mail."""
    out: list[str] = []
    for report in views:
        out += [report.title, _period_line(report, _), ""]
        for table in report.tables:
            out += [table.title, *_aligned(table), ""]
    if any(cell.verdict == "missed" for report in views for table in report.tables
           for row in table.rows for cell in row):
        out.append(_("! marks a value that misses its target."))
    return "\n".join(out).rstrip() + "\n"


def _aligned(table: Table) -> Iterable[str]:
    rows = [list(table.header), *([_marked(cell) for cell in row] for row in table.rows)]
    widths = [max(int(_width(row[i])) for row in rows) for i in range(len(table.header))]
    for index, row in enumerate(rows):
        cells = [_pad(value, widths[i], i > 0) for i, value in enumerate(row)]
        yield "  ".join(cells).rstrip()
        if index == 0:
            yield "  ".join("-" * w for w in widths)


def _marked(cell: Cell) -> str:
    # No colour in a terminal: a target missed is marked where the value stands.
    return cell.text + (" !" if cell.verdict == "missed" and cell.format != "text" else "")


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - int(_width(text)))
    return gap + text if right else text + gap

