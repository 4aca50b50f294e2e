"""The wheel holds everything qmsflow needs, and the installed wheel works without the repository.

The wheel is built from a copy of the files git tracks (building in place would leave build/
and qmsflow.egg-info in the working tree); what it must hold is computed from the same list, so
a new sub-package, template, static file, catalogue, schema or migration is checked without
being named here. The installed wheel then validates, simulates, creates its database and
serves the login page, importing qmsflow from the install folder, never from the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from .conftest import ROOT, SCENARIOS

pytestmark = pytest.mark.slow

LAYERS = ("engine", "forms", "web", "schema")  # installed as qmsflow.<layer> (symbolic links)
#: Files that are not Python modules but must be installed (``**``: any number of folders).
DATA = ("web/**/templates/**/*", "web/static/**/*", "web/translations/**/*", "schema/*.json",
        "engine/persistence/migrations/**/*")
SERVER_DEADLINE = 60.0  # seconds for the development server to accept connections


@dataclass(frozen=True)
class Built:
    tracked: list[str]  # paths git tracks that exist in the working tree (posix, repo-relative)
    source: Path  # the copy of those files the wheel was built from
    wheel: Path
    members: dict[str, bytes]  # every file of the wheel, by its path in the wheel
    seconds: float


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode("utf-8")
    # A file deleted in the working tree but not yet committed is not built either.
    return sorted(p for p in listed.split("\0") if p and os.path.lexists(ROOT / p))


def in_wheel(path: str) -> str:
    """Where a repository file lands in the wheel (engine/x.py -> qmsflow/engine/x.py)."""
    return path if path.startswith("qmsflow/") else f"qmsflow/{path}"


def copy_tracked(paths: list[str], target: Path) -> None:
    for path in paths:
        source, copy = ROOT / path, target / path
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():  # qmsflow/engine -> ../engine: keep the link, as git does
            copy.symlink_to(source.readlink())
        else:
            shutil.copy2(source, copy)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any qmsflow setting of the machine running the tests."""
    env = {k: v for k, v in os.environ.items()
           if k != "DATABASE_URL" and not k.startswith("QMSFLOW_") and k != "PYTHONPATH"}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return {**env, **extra}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tracked = tracked_files()
    source = tmp_path_factory.mktemp("source")
    copy_tracked(tracked, source)
    dist = tmp_path_factory.mktemp("dist")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(dist), "."], cwd=source, env=clean_env(), capture_output=True, text=True,
        timeout=600)
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = dist.glob("qmsflow-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        members = {name: archive.read(name) for name in archive.namelist()
                   if not name.endswith("/")}
    return Built(tracked, source, wheel, members, seconds)


def test_the_wheel_holds_every_tracked_module_of_every_package_of_every_layer(
        built: Built) -> None:
    layered = [p for p in built.tracked if p.split("/")[0] in (*LAYERS, "qmsflow")]
    packages = {str(PurePosixPath(p).parent) for p in layered
                if PurePosixPath(p).name == "__init__.py"}
    assert {"qmsflow", "qmsflow/cli", "engine", "engine/persistence",
            "engine/persistence/migrations/versions", "forms", "web", "web/admin"} <= packages
    modules = [p for p in layered if p.endswith(".py") and str(PurePosixPath(p).parent) in packages]
    missing = sorted(in_wheel(p) for p in modules if in_wheel(p) not in built.members)
    assert missing == []
    print(f"\nwheel built in {built.seconds:.1f} s: {len(built.members)} files")


def test_the_wheel_holds_every_tracked_template_static_file_catalogue_schema_and_migration(
        built: Built) -> None:
    data = [p for p in built.tracked if any(matches(p, pattern) for pattern in DATA)]
    assert any(p.endswith(".mo") for p in data), "no compiled catalogue is tracked"
    assert {"engine/persistence/migrations/env.py",
            "engine/persistence/migrations/script.py.mako",
            "web/auth/templates/auth/login.html", "schema/process.schema.json"} <= set(data)
    assert any(p.startswith("engine/persistence/migrations/versions/") for p in data)
    missing = sorted(in_wheel(p) for p in data if in_wheel(p) not in built.members)
    assert missing == []
    # The very bytes it was built from: a stale copy (an old .mo, say) would show here.
    stale = sorted(p for p in data if built.members[in_wheel(p)] != (built.source / p).read_bytes())
    assert stale == []


def matches(path: str, pattern: str) -> bool:
    """``path`` matches ``pattern``, where ``**`` stands for any number of folders (before
    Python 3.13 PurePath.match reads ``**`` as exactly one)."""
    return _match(PurePosixPath(path).parts, PurePosixPath(pattern).parts)


def _match(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return bool(parts) and PurePosixPath(parts[0]).match(pattern[0]) and _match(
        parts[1:], pattern[1:])


# -- the installed wheel ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("target")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
         str(target), str(built.wheel)], env=clean_env(), capture_output=True, text=True,
        timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return target


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder holding a copy of the bundled definitions and scenarios, nothing else."""
    shutil.copytree(ROOT / "definitions", tmp_path / "definitions")
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    return tmp_path


def qmsflow(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qmsflow.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server(installed: Path, site: Path, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[str, dict[str, str], Path]]:
    instance = tmp_path_factory.mktemp("instance")
    env = clean_env(PYTHONPATH=str(installed), QMSFLOW_INSTANCE=str(instance))
    upgraded = qmsflow(env, site, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert f"sqlite:///{instance}/qmsflow.sqlite3: schema at revision" in upgraded.stdout
    port = free_port()
    log = site / "serve.log"
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "qmsflow.cli", "serve", "--port", str(port)], cwd=site,
            env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + SERVER_DEADLINE
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (
                f"no server on port {port} after {SERVER_DEADLINE:.0f} s:\n{log.read_text()}")
            try:  # wait a little for the server to exit: it must not
                code = process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"qmsflow serve exited with status {code}:\n{log.read_text()}")
        yield f"http://127.0.0.1:{port}", env, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_installed_wheel_is_what_runs_not_the_repository(installed: Path, site: Path) -> None:
    env = clean_env(PYTHONPATH=str(installed))
    shown = subprocess.run(
        [sys.executable, "-c", "import json, qmsflow, qmsflow.cli, qmsflow.engine.loader, "
         "qmsflow.engine.persistence.schema as s, qmsflow.web.app; print(json.dumps("
         "[m.__file__ for m in (qmsflow, qmsflow.cli, qmsflow.engine.loader, qmsflow.web.app)]"
         " + [str(s.MIGRATIONS)]))"], cwd=site, env=env, capture_output=True, text=True,
        timeout=120)
    assert shown.returncode == 0, shown.stderr
    for file in json.loads(shown.stdout):
        assert Path(file).resolve().is_relative_to(installed.resolve()), file


def test_the_installed_wheel_validates_the_default_set(installed: Path, site: Path) -> None:
    result = qmsflow(clean_env(PYTHONPATH=str(installed)), site, "validate", "definitions/default")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["definitions/default: valid"]


def test_the_installed_wheel_passes_every_bundled_scenario(installed: Path, site: Path) -> None:
    result = qmsflow(clean_env(PYTHONPATH=str(installed)), site, "simulate", "scenarios")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == f"{len(SCENARIOS)} passed, 0 failed"


def test_the_installed_wheel_serves_the_translated_login_page_and_its_static_files(
        server: tuple[str, dict[str, str], Path], built: Built) -> None:
    base, _, log = server
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    with opener.open(f"{base}/login", timeout=30) as response:
        assert response.status == 200
        page = response.read().decode("utf-8")
    assert "<title>登录 · qmsflow</title>" in page  # the template and the compiled catalogue
    assert 'name="csrf_token"' in page
    with opener.open(f"{base}/static/css/qmsflow.css", timeout=30) as response:
        assert response.status == 200
        assert response.read() == built.members["qmsflow/web/static/css/qmsflow.css"]
    assert "qmsflow serves definitions/default at " in log.read_text(encoding="utf-8")
