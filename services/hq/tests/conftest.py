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

import pytest


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

    def get(self, path: str) -> tuple[int, str, dict[str, str]]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)


def start_server(env: dict[str, str]) -> Server:
    """Start hq under gunicorn on a free loopback port and wait until /health answers."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "hq.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "--access-logfile",
            "-",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Server(f"http://127.0.0.1:{port}", env, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"hq exited early:\n{process.stdout.read() if process.stdout else ''}"
            )
        try:
            server.get("/health")
            return server
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("hq did not answer /health within 30 s")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    if server.process.stdout:
        server.process.stdout.close()


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
    env = hq_env(tmp_path_factory.mktemp("hq-data"))
    manage(env, "migrate", "--no-input")
    server = start_server(env)
    yield server
    stop_server(server)
