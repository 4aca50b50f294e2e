"""Screenshots of qmsflow for the README, taken in Chromium from a freshly seeded demo.

    .venv/bin/python tools/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]

Seeds a temporary SQLite database with the demo data (``qmsflow demo``: one account per role,
cases in every state) on a fixed clock, serves the application from it on a free local port
and photographs, in Chinese: the sign-in page, the quality manager's inbox, a case page with
its deadlines and history (also at tablet size), the dashboard, the outbox, a step form with a
conditional section shown and the signature block, the printable form, the definition editor
with a typed mistake located and said in Chinese, and the administration's
state diagram; a submitted NMPA report's page with its form section, and the first page of the
form's PDF as WeasyPrint generates it (rendered to PNG by poppler's ``pdftoppm``: ``apt-get
install poppler-utils``). The browser is Debian's Chromium (never a downloaded one); nothing
outside ``--out`` is kept.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, profiles
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence.models import CaseRow
from qmsflow.web import create_app
from qmsflow.web.demo import DemoSummary, DemoUser, seed
from qmsflow.web.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
DEFINITIONS = ROOT / "definitions" / "default"
# Monday 16 March 2026, 10:00 in Shanghai: the same pictures on every run.
NOW = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
# The demo's passwords are for looking around; the cheapest hashing keeps seeding quick.
HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}


def demo_database(folder: Path, definition: DefinitionSet) -> tuple[str, DemoSummary]:
    """A SQLite database in ``folder`` seeded with the demo data; its URL and the summary."""
    url = f"sqlite:///{folder / 'demo.sqlite3'}"
    runtime = Runtime(url, DEFINITIONS, clock=lambda: NOW, hasher=HASHER, compiled=definition)
    try:
        summary = seed(runtime, NOW, quiet=True, hasher=HASHER)
    finally:
        runtime.close()
    return url, summary


@contextmanager
def served(url: str, definition: DefinitionSet, uploads: Path) -> Iterator[str]:
    """The application on ``url``'s database, served in a thread; its base URL."""
    app = create_app({
        "SECRET_KEY": os.urandom(16).hex(), "DATABASE_URL": url, "DEFINITIONS": str(DEFINITIONS),
        "COMPILED": definition, "CLOCK": lambda: NOW, "HASHER": HASHER,
        "UPLOAD_FOLDER": str(uploads)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="screenshots", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        app.extensions["qmsflow"].close()


def user_with(summary: DemoSummary, role: str) -> DemoUser:
    """The demo account holding ``role`` alone."""
    return next(u for u in summary.users if u.roles == (role,) and u.password)


def case_in(url: str, definition: DefinitionSet, process: str, states: list[str]) -> str:
    """The number of a case of ``process`` resting in the first of ``states`` that has one."""
    runtime = Runtime(url, DEFINITIONS, compiled=definition)
    try:
        with runtime.sessions() as session:
            for state in states:
                number = session.execute(
                    select(CaseRow.number).where(CaseRow.process == process,
                                                 CaseRow.state == state)
                    .order_by(CaseRow.number)).scalars().first()
                if number is not None:
                    return str(number)
    finally:
        runtime.close()
    raise LookupError(f"no {process} case in any of {states}")


def nmpa_report(url: str, definition: DefinitionSet) -> str:
    """A submitted report to the NMPA: its form is complete."""
    runtime = Runtime(url, DEFINITIONS, compiled=definition)
    try:
        with runtime.sessions() as session:
            numbers = session.execute(
                select(CaseRow.number).where(CaseRow.process == "regulatory_report",
                                             CaseRow.state == "submitted")
                .order_by(CaseRow.number)).scalars().all()
        for number in numbers:
            if runtime.service.read_case(number).case.values.get("jurisdiction") == "cn":
                return str(number)
    finally:
        runtime.close()
    raise LookupError("no submitted NMPA report in the demo")


def pdf_page(pdf: bytes, path: Path) -> None:
    """The first page of ``pdf`` as the PNG ``path``, by poppler's pdftoppm."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise SystemExit("pdftoppm is missing: apt-get install poppler-utils")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "form.pdf"
        source.write_bytes(pdf)
        subprocess.run([tool, "-png", "-r", "90", "-f", "1", "-l", "1", "-singlefile",
                        str(source), str(path.with_suffix(""))], check=True)


class Camera:
    """Signs a browser context in and saves pictures of its pages."""

    def __init__(self, browser: Browser, base: str, out: Path) -> None:
        self.browser = browser
        self.base = base
        self.out = out
        self.taken: list[Path] = []

    @contextmanager
    def page(self, user: DemoUser | None = None, viewport: dict[str, int] = DESKTOP
             ) -> Iterator[Page]:
        context = self.browser.new_context(locale="zh-CN", base_url=self.base,
                                           viewport=viewport, device_scale_factor=1)
        try:
            page = context.new_page()
            if user is not None:
                page.goto("/login")
                page.fill("#user_id", user.id)
                page.fill("#password", user.password or "")
                page.press("#password", "Enter")
                page.wait_for_url(f"{self.base}/")
            yield page
        finally:
            context.close()

    def shoot(self, page: Page, name: str, target: Any = None, **options: Any) -> None:
        """Saves the viewport, or ``target`` (a locator, or a clip dict on the full page)."""
        path = self.out / f"{name}.png"
        page.evaluate("document.activeElement && document.activeElement.blur()")
        if target is None:
            page.screenshot(path=path, **options)
        elif isinstance(target, dict):
            page.screenshot(path=path, clip=target, full_page=True, **options)
        else:
            target.screenshot(path=path, **options)
        self.taken.append(path)


def around(page: Page, first: str, last: str, margin: int = 16) -> dict[str, float]:
    """The full-page area from element ``first`` to element ``last``, page-wide."""
    top = page.locator(first).first.bounding_box()
    bottom = page.locator(last).first.bounding_box()
    assert top is not None and bottom is not None
    scroll = page.evaluate("window.scrollY")
    width = page.viewport_size["width"] if page.viewport_size else DESKTOP["width"]
    y = max(0, top["y"] + scroll - margin)
    return {"x": 0, "y": y, "width": width,
            "height": bottom["y"] + scroll + bottom["height"] + margin - y}


def take_all(browser: Browser, base: str, out: Path, url: str, summary: DemoSummary,
             definition: DefinitionSet) -> list[Path]:
    camera = Camera(browser, base, out)
    manager = summary.login(definition)
    assert manager is not None
    quality = user_with(summary, "quality")
    open_case = case_in(url, definition, "complaint", ["approval", "reply", "investigation"])

    with camera.page() as page:
        page.goto("/login")
        camera.shoot(page, "login")

    with camera.page(manager) as page:
        camera.shoot(page, "inbox")

        page.goto(f"/cases/{open_case}")
        camera.shoot(page, "case")  # status, deadlines, actions
        history = around(page, "section[aria-labelledby=signatures-title]",
                         "section[aria-labelledby=history-title]")
        camera.shoot(page, "case-history", {**history, "height": DESKTOP["height"]})
        page.goto(f"/cases/{open_case}/print")
        camera.shoot(page, "print")

        page.goto("/reports/")  # last month's statistics and KPIs, red and green
        camera.shoot(page, "reports")
        page.goto("/dashboard")  # my overdue, due this week, my approvals, KPIs
        camera.shoot(page, "dashboard")
        page.goto("/operations/outbox")  # every e-mail: sent, waiting, failed with the reason
        camera.shoot(page, "outbox")

        page.goto("/admin/processes/complaint")
        figure = page.locator("figure[data-diagram]")
        drawing = figure.locator("svg")
        drawing.wait_for(state="visible", timeout=30_000)
        camera.shoot(page, "diagram-page")
        # The page shows the diagram fitted to its width in a frame that scrolls down; this
        # picture shows all of it, by letting the frame and the window grow as tall as it.
        page.add_style_tag(content=".state-diagram { max-height: none !important; }")
        bottom = int(figure.evaluate("f => f.getBoundingClientRect().bottom + window.scrollY"))
        page.set_viewport_size({"width": DESKTOP["width"], "height": bottom + 40})
        camera.shoot(page, "diagram", figure)

        # The definition editor checking a draft as it is typed: the problem located and said
        # in the reader's language.
        page.goto("/admin/drafts")
        page.get_by_label("标题（变更内容）").fill("投诉流程调整")
        page.get_by_role("button", name=re.compile("新建草稿")).click()
        page.wait_for_url(re.compile(r"/admin/drafts/\d+$"))
        page.locator(".cm-content").click()
        page.keyboard.press("Control+Home")
        page.keyboard.insert_text("labelz: 1\n")
        page.locator("[data-problem-list]").get_by_text("set.yaml:1:1").wait_for()
        camera.shoot(page, "editor")

        report = nmpa_report(url, definition)
        page.set_viewport_size(DESKTOP)
        page.goto(f"/cases/{report}")
        camera.shoot(page, "report", around(page, "hgroup",
                                            "section[aria-labelledby=report-forms-title]"))
        pdf = page.request.get(f"/cases/{report}/forms/nmpa_adverse_event.pdf")
        assert pdf.ok, pdf.status
        path = out / "report-form-pdf.png"
        pdf_page(pdf.body(), path)
        camera.taken.append(path)

    with camera.page(manager, TABLET) as page:
        page.goto(f"/cases/{open_case}")
        camera.shoot(page, "case-tablet")

    with camera.page(quality) as page:
        page.goto("/new/complaint/register")
        page.select_option("#channel", "phone")
        page.fill("#description", "监护仪屏幕在使用中间歇性闪烁，重启后恢复。")
        page.check("#patient_involved-0")  # yes: the patient section appears
        page.select_option("#patient_harm", "potential")
        camera.shoot(page, "step-form", around(page, "#section-event",
                                               "form[data-qmsflow-form] button[type=submit]"))
    return camera.taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    definition = load(DEFINITIONS)
    with tempfile.TemporaryDirectory(prefix="qmsflow-screenshots-") as folder:
        url, summary = demo_database(Path(folder), definition)
        with served(url, definition, Path(folder) / "uploads") as base, \
                sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium,
                args=["--no-sandbox"] if os.geteuid() == 0 else [])
            try:
                taken = take_all(browser, base, args.out, url, summary, definition)
            finally:
                browser.close()
    for path in taken:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
              f"  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
