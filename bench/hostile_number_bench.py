"""Benchmark: what a hostile number costs the server, against a normal request, in one run.

Seen before the bounds: ``{"values": {"quantity": 1e999999}}`` to an API start froze the server
for over a minute (``int(Decimal)`` before any bound, cost growing with the square of the
exponent). This times, through the Flask app on a fresh SQLite database, the same intake
with a normal quantity, with ``1e999999``, and with a 200,000-digit integer, and the API
step with a 200,000-digit ``expected_version``; each hostile request must cost about what a
normal one does. It prints the ratio of the slowest hostile median to a normal intake that
opens a case (below 1: opening a case writes to the database) and, on the last line, to a
normal intake refused the same way (a quantity written 'twenty'): near 1.

Run: .venv/bin/python bench/hostile_number_bench.py
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test helpers build the database, users and tokens

from qmsflow.engine.loader import load  # noqa: E402
from qmsflow.engine.persistence import connect, schema, tokens  # noqa: E402
from qmsflow.web import create_app  # noqa: E402
from tests.persistence.conftest import (  # noqa: E402
    CHEAP,
    PASSWORD,
    Clock,
    _sqlite,
    make_world,
)

DEFAULT = ROOT / "definitions" / "default"
REGISTER = "/api/v1/processes/complaint/starts/register"
INTAKE = {
    "channel": "web", "received_at": "2026-03-02T09:30:00+08:00", "complainant_name": "王芳",
    "complainant_org": "市第一人民医院", "market": "domestic",
    "complainant_phone": "+86 21 5555 0100", "product_model": "MX-200",
    "batch_number": "B2026-02-031", "description": "监护仪屏幕在使用中间歇性闪烁",
    "patient_involved": False,
}
RUNS = 15


def median_of(runs: int, work: Callable[[], int]) -> tuple[float, int]:
    """Median wall time of ``runs`` calls, in seconds, and the last call's status."""
    times, status = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        status = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), status


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="qmsflow-hostile-"))
    try:
        template = folder / "template.sqlite3"
        engine = connect(f"sqlite:///{template}")
        schema.upgrade(engine)
        engine.dispose()
        work = folder / "work"
        work.mkdir()
        database = _sqlite(template, work)
        clock = Clock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
        definition = load(DEFAULT)
        world = make_world(database, definition, clock)
        with database.sessions.begin() as session:
            _row, token = tokens.issue(session, world.user("sales"), "bench", clock())
        app = create_app({
            "TESTING": True, "SECRET_KEY": "bench-secret", "DATABASE_URL": database.url,
            "DEFINITIONS": str(DEFAULT), "COMPILED": definition, "CLOCK": clock,
            "HASHER": CHEAP, "WTF_CSRF_ENABLED": False, "UPLOAD_FOLDER": str(work / "up")})
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        number = world.service.create_case("complaint", "register", world.user("sales"),
                                           {**INTAKE, "received_at": datetime(
                                               2026, 3, 2, 1, 30, tzinfo=UTC)},
                                           password=PASSWORD).number

        def post(path: str, body: str) -> Callable[[], int]:
            return lambda: client.post(path, data=body, headers=headers).status_code

        normal = json.dumps({"values": {**INTAKE, "quantity": 20}, "password": PASSWORD},
                            ensure_ascii=False)
        intake = json.dumps({"values": INTAKE, "password": PASSWORD}, ensure_ascii=False)
        exponent = intake.replace('"values": {', '"values": {"quantity": 1e999999, ', 1)
        digits = intake.replace('"values": {', '"values": {"quantity": ' + "9" * 200_000
                                + ", ", 1)
        step = f"/api/v1/processes/complaint/cases/{number}/steps/confirm_complaint"
        version = ('{"values": {"is_complaint": true, "screening_rationale": "x"}, '
                   '"expected_version": ' + "9" * 200_000 + "}")
        typo = json.dumps({"values": {**INTAKE, "quantity": "twenty"}, "password": PASSWORD},
                          ensure_ascii=False)
        cases = [("normal intake, refused: quantity 'twenty'", post(REGISTER, typo)),
                 ("normal intake (opens a case)", post(REGISTER, normal)),
                 ("quantity 1e999999", post(REGISTER, exponent)),
                 ("quantity of 200,000 digits", post(REGISTER, digits)),
                 ("expected_version of 200,000 digits", post(step, version))]
        figures = []
        for label, call in cases:
            call()  # warm up: templates, catalogs, first connection
            seconds, status = median_of(RUNS, call)
            figures.append(seconds)
            print(f"{label:42} median {seconds * 1000:8.2f} ms  status {status}")
        print(f"slowest hostile / normal intake that opens a case: "
              f"{max(figures[2:]) / figures[1]:.2f}")
        print(f"slowest hostile / normal request refused the same way: "
              f"{max(figures[2:]) / figures[0]:.2f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
