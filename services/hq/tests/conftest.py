from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trellis.core.testing import stop_process

MONITORING_TOKEN = "hq-monitor-4Tc9Hd1Mf6Gj0Se5Ua-Oi2Qe8Wr4Ty7"
"""The embedded server's ``TRELLIS_MONITORING_TOKEN`` (tests send it as a bearer token)."""


def hq_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A clean environment for an hq process: no inherited TRELLIS_/DJANGO_/DATABASE_ values."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRELLIS_", "DJANGO_", "DATABASE_URL"))
    }
    env.update(TRELLIS_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", **extra)
    return env


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hq <args>`` and return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "hq", *args],
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[str]
    log: Path
    """The server's output (a file, not a pipe: a pipe nobody reads blocks the server)."""

    def get(
        self, path: str, *, headers: dict[str, str] | None = None, follow: bool = True
    ) -> tuple[int, str, dict[str, str]]:
        """GET ``path``; ``follow=False`` returns a redirect instead of following it."""
        opener = urllib.request.build_opener(*(() if follow else (_NoRedirect(),)))
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def start_server(env: dict[str, str], *, options: tuple[str, ...] = ("-w", "1")) -> Server:
    """Start hq under gunicorn on a free loopback port and wait until /health/live answers
    (``options``: gunicorn's worker options, one sync worker by default)."""
    port = free_port()
    log = Path(env["TRELLIS_DATA_DIR"]) / f"gunicorn-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "hq.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                *options,
                "--access-logfile",
                "-",
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(f"http://127.0.0.1:{port}", env, process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hq exited early:\n{log.read_text()}")
        try:
            server.get("/health/live")
            return server
        except OSError:
            time.sleep(0.1)
    stop_process(process, timeout=5)
    raise RuntimeError("hq did not answer /health/live within 30 s")


def stop_server(server: Server) -> None:
    stop_process(server.process)


class HQ:
    """Helpers handed to tests by the ``hq`` fixture (conftest modules are not importable)."""

    env = staticmethod(hq_env)
    manage = staticmethod(manage)
    start = staticmethod(start_server)
    stop = staticmethod(stop_server)


@pytest.fixture(scope="session")
def hq() -> HQ:
    """Run, start and stop hq processes: ``hq.env(dir)``, ``hq.manage(env, ...)``, ``hq.start``."""
    return HQ()


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """hq on the embedded profile (SQLite in a fresh data dir), migrated, under gunicorn."""
    env = hq_env(tmp_path_factory.mktemp("hq-data"), TRELLIS_MONITORING_TOKEN=MONITORING_TOKEN)
    manage(env, "migrate", "--no-input")
    server = start_server(env)
    yield server
    stop_server(server)


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright (fails under CI when missing, else skips)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"browser tests need Debian's Chromium: apt-get install chromium ({CHROMIUM})")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
