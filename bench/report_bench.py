"""Benchmark: the monthly complaint statistics through qmsflow, against hand-written SQL.

On the PostgreSQL database seeded by bench/seed.py (1,000,000 cases), for one month (default:
the last whole month with closed cases): (a) ``run_report`` of the bundled
``monthly_complaints`` report (its filter and conditions translated to SQL, one GROUPING SETS
query over both months, rows turned into the report's tables with shares, rates and the month
before); against (b) the same aggregate written by hand and sent with psycopg: the same
filter, the same three breakdowns and the total, for the same two months, rows fetched. Both
sides are checked to give the same counts first. Each side runs alternately, several times;
the median is reported, with the plan of the hand-written query (``--show-plans`` also shows
the statement qmsflow sends).

The last line is the ratio hand-written / qmsflow (1.0: qmsflow adds nothing; the target is
at least 0.8). Figures on a shared 2-core machine vary by +-30% between runs; compare within
one run.

Run:
    .venv/bin/python bench/seed.py --fresh              # once: 1,000,000 cases
    .venv/bin/python bench/report_bench.py              # default database qmsflow_bench
    .venv/bin/python bench/report_bench.py --month 2026-09 --runs 11 --show-plans
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from seed import libpq  # bench/ is on the path of a bench script
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from qmsflow.engine.loader import load
from qmsflow.engine.persistence.db import connect, session_factory
from qmsflow.engine.persistence.models import CaseRow
from qmsflow.engine.persistence.reports import Period, ReportResult, month, run_report

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "definitions" / "default"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qmsflow_bench"
REPORT = "monthly_complaints"

# The report as a DBA would write it for this definition set: its filter, its three
# breakdowns and the total, its two conditional counts, this month and the one before.
HAND_WRITTEN = """
SELECT GROUPING(category, cause, department) AS grouped, this_month, category, cause,
       department, count(*) AS cases,
       count(*) FILTER (WHERE improvement_status = 'open') AS improvement_open,
       count(*) FILTER (WHERE established) AS established
FROM (SELECT closed_at >= %(start)s AS this_month, category,
             "values"->>'cause' AS cause, "values"->>'responsible_department' AS department,
             "values"->>'improvement_status' AS improvement_status,
             ("values"->>'established')::boolean AS established
      FROM cases
      WHERE process = 'complaint' AND voided_at IS NULL
        AND state IN ('closed', 'not_established')
        AND closed_at >= %(previous)s AND closed_at < %(end)s) AS finished
GROUP BY GROUPING SETS ((this_month), (this_month, category), (this_month, cause),
                        (this_month, department))
"""


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).astimezone(UTC)


def last_whole_month(sessions: Any, zone: str) -> Period:
    """The month before the one holding the latest closure (the seeded data's last month is
    usually still running)."""
    with sessions() as session:
        latest = session.execute(select(func.max(CaseRow.closed_at))).scalar_one()
    if latest is None:
        raise SystemExit("no closed case in the database: run bench/seed.py first")
    local = latest.astimezone(ZoneInfo(zone)).date()
    return month(local.year, local.month).previous()


def hand_written(conn: psycopg.Connection[Any], period: Period, zone: str) -> list[Any]:
    params = {"start": local_midnight(period.start, zone),
              "end": local_midnight(period.end, zone),
              "previous": local_midnight(period.previous().start, zone)}
    return conn.execute(HAND_WRITTEN, params).fetchall()  # type: ignore[arg-type]


def same_figures(result: ReportResult, rows: Sequence[Any]) -> list[str]:
    """Where the two sides disagree (empty: they give the same counts)."""
    by_column = {0b011: "category", 0b101: "cause", 0b110: "department"}
    hand: dict[tuple[str, bool, object], tuple[int, int, int]] = {}
    for grouped, this_month, category, cause, department, cases, opened, established in rows:
        name = by_column.get(grouped, "total")
        key = {"category": category, "cause": cause, "department": department}.get(name)
        hand[(name, this_month, key)] = (cases, opened, established)
    names = ("category", "cause", "department")
    ours: dict[tuple[str, bool, object], tuple[int, int, int]] = {}
    lines = [("total", result.total)] + [
        (names[i], line) for i, b in enumerate(result.breakdowns) for line in b.lines]
    for name, line in lines:
        for this_month, count in ((True, line.count), (False, line.previous_count)):
            if not count:
                continue
            rate = line.figure("established_rate")
            opened = line.figure("improvement_open")
            established = round((rate.value if this_month else rate.previous or 0) * count)
            ours[(name, this_month, line.key)] = (
                count, int(opened.value if this_month else opened.previous or 0),
                int(established))
    return [f"{key}: qmsflow {ours.get(key)}, hand-written {hand.get(key)}"
            for key in sorted(set(ours) | set(hand), key=str) if ours.get(key) != hand.get(key)]


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--month", help="YYYY-MM (default: the last whole month in the data)")
    parser.add_argument("--runs", type=int, default=9, help="timed runs per side")
    parser.add_argument("--show-plans", action="store_true",
                        help="print the SQL qmsflow sends and the plan of the hand-written one")
    args = parser.parse_args()

    definition = load(DEFAULT_SET)
    report = definition.reports[REPORT]
    zone = definition.organisation.timezone
    engine = connect(args.url)
    sessions = session_factory(engine)
    if args.month:
        year, number = (int(part) for part in args.month.split("-"))
        period = month(year, number)
    else:
        period = last_whole_month(sessions, zone)
    with sessions() as session:
        total = session.execute(select(func.count()).select_from(CaseRow)).scalar_one()
    print(f"database: {make_url(args.url).database}, {total:,} cases; report {REPORT} for "
          f"{period} against {period.previous()} (time zone {zone}); PostgreSQL via psycopg "
          f"{psycopg.__version__}")

    sent: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: sent.append(statement))

    def ours() -> ReportResult:
        return run_report(sessions, definition, report, period.start, period.end)

    conn = psycopg.connect(libpq(args.url), autocommit=True)
    result, rows = ours(), hand_written(conn, period, zone)  # also warms both paths
    disagreements = same_figures(result, rows)
    if disagreements:
        raise SystemExit("the two sides disagree:\n" + "\n".join(disagreements))
    statements = [s for s in sent if s.lstrip().upper().startswith(("WITH", "SELECT"))]
    print(f"both sides agree: {result.total.count:,} complaints finished in {period} "
          f"({result.total.previous_count:,} in {period.previous()}), "
          f"{sum(len(b.lines) for b in result.breakdowns)} lines in "
          f"{len(result.breakdowns)} tables; qmsflow sent {len(statements)} query per run")
    if args.show_plans:
        print("\nqmsflow's statement:\n" + statements[-1])
        params = {"start": local_midnight(period.start, zone),
                  "end": local_midnight(period.end, zone),
                  "previous": local_midnight(period.previous().start, zone)}
        plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + HAND_WRITTEN,  # type: ignore[arg-type]
                            params).fetchall()
        print("\nplan of the hand-written query:\n" + "\n".join(r[0] for r in plan))

    ours_times: list[float] = []
    hand_times: list[float] = []
    for _ in range(args.runs):  # alternate, so that both sides see the same machine
        ours_times.append(timed(ours))
        hand_times.append(timed(lambda: hand_written(conn, period, zone)))
    ours_median = statistics.median(ours_times)
    hand_median = statistics.median(hand_times)
    print(f"\n{'':<32}{'median':>11}{'min':>11}{'max':>11}   ({args.runs} runs each)")
    for name, times in (("qmsflow run_report", ours_times),
                        ("hand-written SQL (psycopg)", hand_times)):
        print(f"{name:<32}{ms(statistics.median(times))}{ms(min(times))}{ms(max(times))}")
    print(f"qmsflow around the query (building it, reading the rows, the report's tables): "
          f"{ms(ours_median - hand_median).strip()} per report (difference of the medians; "
          "below the noise when negative)")
    conn.close()
    engine.dispose()
    print(f"ratio hand-written / qmsflow: {hand_median / ours_median:.2f}")


if __name__ == "__main__":
    main()
