"""Lists of cases laid out as the inbox lays them out, for the dashboard and the report
drill-down (``operations/_cases.html`` shows them)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from qmsflow.engine.persistence import Page

from ..auth import service
from ..cases import views
from ..i18n import definition


def case_tables(page: Page, now: datetime, steps: dict[str, list[str]] | None = None
                ) -> list[dict[str, Any]]:
    """A page of cases as the inbox lays it out: a table per process with its inbox columns
    (personal data hidden where the reader may not see it); ``steps``: step labels to show
    per case number."""
    processes = definition().processes
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in page.rows:
        version = service().definition(case.version)
        process = version.process(case.process)
        groups[case.process].append({
            "number": case.number, "urgency": views.urgency(case, now).css,
            "steps": (steps or {}).get(case.number, []),
            "cells": [views.column(process, case, name, now, version,
                                   case.number in page.hidden)
                      for name in process.inbox_columns]})
    return [{"process": processes[pid], "keys": processes[pid].inbox_columns,
             "columns": [views.column_title(processes[pid], name)
                         for name in processes[pid].inbox_columns], "rows": rows}
            for pid, rows in groups.items() if pid in processes]
