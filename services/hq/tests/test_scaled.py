"""One plugin, unchanged, on both profiles of hq: what was committed is handled, once.

A plugin distribution that publishes events and enqueues tasks is installed into an overlay
venv. On the embedded profile (SQLite, eager tasks, inline events) its effects happen in the
publishing process as each transaction commits. On the scaled profile the processes are the
lines of ``services/hq/Procfile`` themselves (gunicorn, a Celery worker with beat, a Redis
Streams consumer) on PostgreSQL and Redis, and the effects happen in the worker and consumer.
Either way the rolled-back transaction's event and task never run, and the dashboard shows the
processor and the task queue.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from trellis.core.testing import (
    clean_environ,
    make_overlay_venv,
    pip_install,
    postgres_database,
    require_service,
    stop_process,
    tied_to_this_process,
    write_plugin_project,
)

PROCFILE = Path(__file__).resolve().parents[1] / "Procfile"
REDIS_URL = "redis://127.0.0.1:6379/13"
"""The Redis database these tests own: flushed before and after each scaled run."""
TOKEN = "hq-scaled-monitor-5Ua9Oi2Qe8Wr4Ty7Hd1Mf6Gj0"

PLUGIN_SOURCE = """
import os
from pathlib import Path

from trellis.core import hookimpl
from trellis.events import Processor, Topic
from trellis.tasks import task

TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2", "events": ">=1.0,<2", "tasks": ">=1.0,<2"}


def _log(name, line):
    with (Path(os.environ["TRELLIS_DATA_DIR"]) / name).open("a") as log:
        log.write(line + "\\n")


@task(name="visits.thank")
def thank(*, visitor):
    _log("tasks.log", f"{visitor} {os.getpid()}")


def record(events):
    for event in events:
        _log("events.log", f"{event.key} {os.getpid()}")


@hookimpl
def tasks_handlers():
    return [thank]


@hookimpl
def events_topics():
    return [Topic("visits.recorded", "a visitor came by")]


@hookimpl
def events_processors():
    return [Processor("visits.log", ["visits.recorded"], record)]
"""

# The caller's code: the same on both profiles.
VISITS = """
import os
from django.db import transaction
from trellis import events, tasks

for i in range(10):
    with transaction.atomic():
        events.publish(topic="visits.recorded", key=f"v{i}", payload={"n": i})
        tasks.enqueue("visits.thank", visitor=f"v{i}")
try:
    with transaction.atomic():
        events.publish(topic="visits.recorded", key="ghost", payload={"n": -1})
        tasks.enqueue("visits.thank", visitor="ghost")
        raise RuntimeError("the visit is cancelled")
except RuntimeError:
    pass
print(f"PID={os.getpid()}")
"""

COMMITTED = [f"v{i}" for i in range(10)]


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An overlay venv with the ``tt-visits`` plugin installed (hq and trellis come through)."""
    root = tmp_path_factory.mktemp("visits")
    python = make_overlay_venv(root / "venv")
    project = write_plugin_project(
        root / "tt-visits",
        "tt-visits",
        PLUGIN_SOURCE,
        {"tt_visits": "tt_visits.trellis_plugin"},
        module="tt_visits.trellis_plugin",
        version="0.1.0",
    )
    pip_install(python, project)
    return python


def _env(python: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return clean_environ(
        {
            "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}",
            "TRELLIS_DATA_DIR": str(data_dir),
            "TRELLIS_MONITORING_TOKEN": TOKEN,
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )


def _hq(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        ["python", "-m", "hq", *args],
        env=env,
        cwd=env["TRELLIS_DATA_DIR"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _effects(data_dir: Path, name: str) -> list[tuple[str, int]]:
    path = data_dir / name
    lines = path.read_text().split() if path.exists() else []
    return [(lines[i], int(lines[i + 1])) for i in range(0, len(lines) - 1, 2)]


def _visit(env: dict[str, str]) -> int:
    out = _hq(env, "shell", "-c", VISITS)
    return int(re.search(r"PID=(\d+)", out).group(1))


def test_embedded_profile_handles_committed_work_in_the_publishing_process(
    venv_python: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "embedded"
    env = _env(venv_python, data_dir)
    _hq(env, "migrate", "--no-input")
    pid = _visit(env)
    # Nothing else runs: the effects are there as soon as the shell returns.
    for log in ("events.log", "tasks.log"):
        effects = _effects(data_dir, log)
        assert sorted(key for key, _ in effects) == sorted(COMMITTED), log
        assert {p for _, p in effects} == {pid}, f"{log}: ran outside the publishing process"


def _redis_flush() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


@pytest.fixture
def redis_db() -> Iterator[str]:
    import redis

    def probe() -> None:
        redis.Redis.from_url(REDIS_URL, socket_timeout=3, socket_connect_timeout=3).ping()

    require_service(
        "Redis", probe, how_to_start="start redis-server on 127.0.0.1:6379 (see .ci/run)"
    )
    _redis_flush()
    yield REDIS_URL
    _redis_flush()


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_database("hq_scaled") as url:
        yield url


def _procfile() -> dict[str, str]:
    lines = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            lines[name.strip()] = command.strip()
    return lines


def test_procfile_declares_web_worker_and_consumer() -> None:
    assert set(_procfile()) == {"web", "worker", "consumer"}
    assert sum("--beat" in command for command in _procfile().values()) == 1


def _wait_for(what: str, condition, processes, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for name, (process, log) in processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    logs = "\n".join(f"--- {n}\n{log.read_text()[-3000:]}" for n, (_, log) in processes.items())
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DEMO_COUNT = 60
DEMO_TODAY = "2026-11-30"
API_KEY = """
from django.contrib.auth import get_user_model
from trellis import forms
user = get_user_model().objects.create_superuser("scaled-admin", password=None)
print(forms.api_key_create(user=user, name="test_scaled"))
"""


def _demo_weeks() -> dict[str, int]:
    """Visits per week of the demo's generated submissions, computed here."""
    from datetime import date, timedelta

    from hq import demo

    weeks: dict[str, int] = {}
    for visit in demo.submissions(DEMO_COUNT, today=date.fromisoformat(DEMO_TODAY)):
        day = date.fromisoformat(visit["data"]["visit_date"])
        monday = (day - timedelta(days=day.weekday())).isoformat()
        weeks[monday] = weeks.get(monday, 0) + 1
    return weeks


def _visits_by_week(rows: list[dict[str, object]]) -> dict[str, int]:
    weeks: dict[str, int] = {}
    for row in rows:
        week, visits = str(row["week"]), row["visits"]
        assert isinstance(visits, int)
        weeks[week] = weeks.get(week, 0) + visits
    return weeks


def _get(url: str, path: str, *, authorization: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": authorization or f"Bearer {TOKEN}"}
    request = urllib.request.Request(url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_scaled_profile_runs_the_procfile_on_postgres_redis_and_celery(
    venv_python: Path, tmp_path: Path, database_url: str, redis_db: str
) -> None:
    data_dir = tmp_path / "scaled"
    port = _free_port()
    env = _env(
        venv_python,
        data_dir,
        DATABASE_URL=database_url,
        TRELLIS_TASKS_PROVIDER="celery",
        TRELLIS_TASKS_BROKER_URL=redis_db,
        TRELLIS_EVENTS_PROVIDER="redis-streams",
        TRELLIS_EVENTS_REDIS_URL=redis_db,
        TRELLIS_EVENTS_REDIS_PREFIX=f"hq-test-{uuid.uuid4().hex[:8]}",
        TRELLIS_BIND=f"127.0.0.1:{port}",
        TRELLIS_WEB_WORKERS="1",
        TRELLIS_WORKER_CONCURRENCY="1",
        TRELLIS_HEALTH_INTERVAL="0.1",
        TRELLIS_CACHE_URL=redis_db,
    )
    _hq(env, "migrate", "--no-input")
    processes: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    try:
        for name, command in _procfile().items():
            log = data_dir / f"{name}.log"
            with log.open("wb") as output:
                processes[name] = (
                    subprocess.Popen(
                        tied_to_this_process(["/bin/sh", "-c", f"exec {command}"]),
                        env=env,
                        cwd=data_dir,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    ),
                    log,
                )
        url = f"http://127.0.0.1:{port}"

        def web_answers() -> bool:
            try:
                return _get(url, "/health/live")[0] == 200
            except OSError:
                return False

        _wait_for("the web process", web_answers, processes)
        pid = _visit(env)

        def handled() -> bool:
            return all(
                len(_effects(data_dir, log)) >= len(COMMITTED)
                for log in ("events.log", "tasks.log")
            )

        _wait_for("the worker and the consumer to handle the committed work", handled, processes)
        time.sleep(1.0)  # room for a wrongly handled ghost or a duplicate to show up
        for log in ("events.log", "tasks.log"):
            effects = _effects(data_dir, log)
            assert sorted(key for key, _ in effects) == sorted(COMMITTED), log
            handlers = {p for _, p in effects}
            assert pid not in handlers, f"{log}: handled in the publishing process"

        status, page = _get(url, "/")
        assert status == 200, page
        assert "visits.log" in page, "the dashboard lists the processor"
        assert "visits" in page and "Task queues" in page, "the dashboard lists the task queue"
        status, body = _get(url, "/health")
        assert status in (200, 503), body
        assert '"tasks.heartbeat"' in body and '"events.processors"' in body

        # The demo on the scaled profile: its report fills in the consumer, not in hq_demo.
        _hq(env, "hq_demo", "--submissions", str(DEMO_COUNT), "--today", DEMO_TODAY)
        key = _hq(env, "shell", "-c", API_KEY).strip().splitlines()[-1]
        expected = _demo_weeks()
        report = "/a/demo/api/reports/visits_per_village_week/?limit=1000"

        def report_complete() -> bool:
            status, body = _get(url, report, authorization=f"ApiKey scaled-admin:{key}")
            assert status == 200, body
            return _visits_by_week(json.loads(body)["rows"]) == expected

        _wait_for("the consumer to fill the demo report", report_complete, processes)
        assert "reports" in _get(url, "/")[1], "the dashboard lists the report"
    finally:
        for process, _ in processes.values():
            stop_process(process, timeout=15)
