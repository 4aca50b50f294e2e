"""Browser fixtures: the real application served over HTTP on a free port (CSRF on), and a
Chromium page per test in a fresh context whose browser asks for Chinese.

Chromium is Debian's (``/usr/bin/chromium``), never a downloaded one. The suite is skipped,
with the reason, only where playwright or that browser is missing; CI has both.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from ..persistence.conftest import PASSWORD, World
from ..web import conftest as web
from ..web.conftest import make_app

# The web tests' database fixtures, shared: a fresh SQLite database per test with the default
# set published and one user per role.
sqlite_template = web.sqlite_template
clock = web.clock
world = web.world


@pytest.fixture
def live_server(world: World, tmp_path: Path) -> Iterator[str]:
    """The application over ``world`` served in a thread; its base URL (no trailing slash)."""
    app = make_app(world, tmp_path, WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()
    app.extensions["qmsflow"].close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A page in a fresh context (no cookies) of a Chinese-speaking browser, on the app."""
    context = browser.new_context(locale="zh-CN", base_url=live_server,
                                  viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


@dataclass
class Person:
    """Someone at the browser: signs in and out as a role of ``world``."""

    page: Any
    world: World

    def sign_in(self, role: str, password: str = PASSWORD) -> Any:
        page = self.page
        page.goto("/login")
        page.get_by_label("用户名").fill(self.world.user(role))
        page.get_by_label("密码").fill(password)
        page.get_by_label("密码").press("Enter")
        page.wait_for_url(re.compile(r"/(\?.*)?$"))
        return page

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="退出").click()
        self.page.wait_for_url(re.compile(r"/login"))

    def as_(self, role: str) -> Any:
        """Signs out whoever is signed in, then in as ``role``."""
        if self.page.get_by_role("button", name="退出").count():
            self.sign_out()
        return self.sign_in(role)


@pytest.fixture
def person(page: Any, world: World) -> Person:
    return Person(page, world)
