"""Processes and databases of areas ``forms`` and ``reports``: hq and the hand-wired baseline
under gunicorn, their set-up, throwaway PostgreSQL databases and Redis clean-up.

Every server runs in its own process group, tied to this process (it dies with it), with a
log file; stopped with SIGTERM, then SIGKILL after 15 s. Every subprocess has a timeout.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._common import REPO_ROOT, clean_env
from trellis.core.testing import tied_to_this_process

POSTGRES_SERVER = os.environ.get(
    "TRELLIS_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TRELLIS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
GUNICORN = os.environ.get("TRELLIS_BENCH_GUNICORN", "--workers 2 --threads 4")
"""gunicorn worker settings of every server (hq's Procfile web line: 2 workers x 4 threads)."""
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hq_env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """hq's environment: embedded profile with DEBUG off (what a deployment runs; DEBUG keeps
    every SQL statement in memory), its data in ``data_dir``, ``DATABASE_URL`` if given."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = clean_env(
        DJANGO_SETTINGS_MODULE="hq.settings",
        TRELLIS_DATA_DIR=str(data_dir),
        DJANGO_DEBUG="0",
        PYTHONPATH=str(REPO_ROOT),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def baseline_env(database_url: str) -> dict[str, str]:
    return clean_env(
        DJANGO_SETTINGS_MODULE="bench.areas._forms_baseline.settings",
        BENCH_BASE_DATABASE_URL=database_url,
        PYTHONPATH=str(REPO_ROOT),
        PYTHONUNBUFFERED="1",
    )


def run_checked(args: list[str], env: dict[str, str], *, timeout: float = 300) -> str:
    proc = subprocess.run(
        args,
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(args[:4])} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc.stdout


def last_json(text: str) -> Any:
    return json.loads(text.strip().splitlines()[-1])


def migrate_hq(env: dict[str, str]) -> None:
    run_checked([PYTHON, "-m", "hq", "migrate", "--no-input", "-v0"], env)


def migrate_baseline(env: dict[str, str]) -> None:
    # Django's own apps first: the app's tables (no migrations: syncdb) refer to auth_user.
    run_checked([PYTHON, "-m", "django", "migrate", "-v0"], env)
    run_checked([PYTHON, "-m", "django", "migrate", "--run-syncdb", "-v0"], env)


def seed_baseline(env: dict[str, str]) -> str:
    """The ``Authorization`` header value of the baseline's device user."""
    return str(
        last_json(run_checked([PYTHON, "-m", "bench.areas._forms_baseline.seed"], env))["auth"]
    )


def seed_hq(env: dict[str, str], *, report: bool = False) -> dict[str, Any]:
    """Domain, device user, API key and form through the trellis-forms facade (and the report
    definition with ``report``); ``{"auth": ...}``."""
    args = [PYTHON, "-m", "bench.areas._forms_hqseed"] + (["--report"] if report else [])
    return dict(last_json(run_checked(args, env)))


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not come up ({url}):\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A background process (its own process group, tied to this one), stopped afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            tied_to_this_process(args),
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


@contextmanager
def gunicorn(app: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """``app`` under gunicorn (``GUNICORN`` worker settings) on a free loopback port; its URL."""
    port = free_port()
    args = [
        PYTHON,
        "-m",
        "gunicorn",
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--no-control-socket",
        "--timeout",
        "60",
        *shlex.split(GUNICORN),
    ]
    with process(args, env, log) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/", proc, log)
        yield url


def clean_redis(url: str, prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        client.close()


def loadavg_record(name: str) -> Any:
    """The machine's 1-minute load average now (2 shared cores: above ~2, other processes
    competed with the benchmark), as an informational record."""
    from bench._common import record

    return record(name, os.getloadavg()[0], "load")
