"""Fault tests on the scaled profile: PostgreSQL, Redis, and a consumer process SIGKILLed mid-batch.

A publisher commits N events (and M more in transactions it rolls back) while a real
``manage.py events_consume`` process handles them; one event makes the handler stop in the
middle of a batch (its earlier events' effects written but not committed) and the test
SIGKILLs the process there. A second consumer takes over the dead one's partitions once its
leases expire, reclaims its pending entries and finishes. Every committed event's effect
must exist exactly once, no rolled-back event's ever, and nothing may stay pending.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from trellis.core.testing import clean_environ, stop_process, tied_to_this_process

from .conftest import REDIS_URL, redis_client

pytestmark = pytest.mark.postgres

COMMITTED = 240
ROLLED_BACK = 60
MARKER_AT = 90  # the event (counted among the committed ones) the first consumer stops in

SETTINGS = """
import dj_database_url
import fault_plugin
from trellis.core.django import compose

SECRET_KEY = "fault-test-only"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
DATABASES = {"default": dj_database_url.parse(DATABASE)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
compose(globals(), plugins=[fault_plugin])
"""

PLUGIN = """
import os
import time
from pathlib import Path

from django.db import connection
from trellis import events
from trellis.core import hookimpl

TRELLIS_IMPLEMENTS = {"events": ">=1.0,<2"}
WORK = Path(os.environ["FAULT_DIR"])


def handle(batch):
    with (WORK / "deliveries.log").open("a") as log:
        for event in batch:
            log.write(f"{os.getpid()} {event.id}\\n")
            log.flush()
            if event.payload.get("marker") and not (WORK / "slept").exists():
                (WORK / "slept").touch()
                (WORK / "sleeping").write_text(str(os.getpid()))
                time.sleep(300)  # killed here, mid-batch
            with events.once("fault-effects", event) as first:
                if first:
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "INSERT INTO fault_effect (event_id, n) VALUES (%s, %s)",
                            [event.id, event.payload["n"]],
                        )


@hookimpl
def events_topics():
    return [events.Topic("fault.work", "fault test work")]


@hookimpl
def events_processors():
    return [events.Processor("fault-effects", ["fault.work"], handle, batch_size=25)]
"""

PUBLISH = """
import json
import django

django.setup()

from django.core.management import call_command
from django.db import connection, transaction
from trellis import events

class Rollback(Exception):
    pass

committed, rolled = [], []
n = 0
for round_ in range(COMMITTED // 10):
    with transaction.atomic():
        for _ in range(10):
            payload = {"n": n, "marker": n == MARKER_AT}
            event = events.publish(topic="fault.work", key=f"k{n % 7}", payload=payload)
            committed.append(event.id)
            n += 1
    if round_ % 2 == 0 and len(rolled) < ROLLED_BACK:
        try:
            with transaction.atomic():
                for m in range(10):
                    event = events.publish(topic="fault.work", key=f"k{m}", payload={"n": -1})
                    rolled.append(event.id)
                raise Rollback()
        except Rollback:
            pass
print(json.dumps({"committed": committed, "rolled": rolled}))
"""


@pytest.fixture
def project(trellis_postgres_database: str, redis_prefix: str, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "fault_settings.py").write_text(
        f"DATABASE = {trellis_postgres_database!r}\n" + textwrap.dedent(SETTINGS), encoding="utf-8"
    )
    (tmp_path / "fault_plugin.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    (tmp_path / "publish.py").write_text(
        f"COMMITTED = {COMMITTED}\nROLLED_BACK = {ROLLED_BACK}\nMARKER_AT = {MARKER_AT}\n"
        + textwrap.dedent(PUBLISH),
        encoding="utf-8",
    )
    env = clean_environ(
        {
            "DJANGO_SETTINGS_MODULE": "fault_settings",
            "PYTHONPATH": str(tmp_path),
            "FAULT_DIR": str(tmp_path),
            "TRELLIS_EVENTS_PROVIDER": "redis-streams",
            "TRELLIS_EVENTS_REDIS_URL": REDIS_URL,
            "TRELLIS_EVENTS_REDIS_PREFIX": redis_prefix,
            "TRELLIS_EVENTS_PARTITIONS": "3",
            "TRELLIS_EVENTS_LEASE_SECONDS": "2",
            "TRELLIS_EVENTS_POLL_SECONDS": "0.02",
        }
    )
    run(env, tmp_path, "-m", "django", "migrate", "-v0")
    import psycopg

    with psycopg.connect(trellis_postgres_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE fault_effect (event_id bigint NOT NULL, n integer NOT NULL)")
    return {"env": env, "dir": str(tmp_path), "db": trellis_postgres_database}  # type: ignore[return-value]


def run(env: dict[str, str], cwd: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def consumer(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "django", "events_consume"]
    with log.open("ab") as out:
        return subprocess.Popen(
            tied_to_this_process(command), env=env, cwd=cwd, stdout=out, stderr=out
        )


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def effects(db: str) -> list[tuple[int, int]]:
    import psycopg

    with psycopg.connect(db) as conn:
        return [tuple(row) for row in conn.execute("SELECT event_id, n FROM fault_effect")]


def test_sigkill_mid_batch_then_restart_handles_every_committed_event_once(project) -> None:  # type: ignore[no-untyped-def]
    env, work, db = project["env"], Path(project["dir"]), project["db"]
    log = work / "consumers.log"
    first = consumer(env, work, log)
    second = None
    try:
        published = json.loads(run(env, work, "publish.py").strip().splitlines()[-1])
        wait_for((work / "sleeping").exists, 60, "the first consumer to reach the marker")
        os.kill(first.pid, signal.SIGKILL)  # mid-batch: the batch's transaction never commits
        first.wait(timeout=10)
        before_restart = effects(db)
        second = consumer(env, work, log)
        wait_for(lambda: len(effects(db)) >= COMMITTED, 60, "the second consumer to catch up")
        time.sleep(0.5)  # anything it would wrongly do twice shows up in this time
        assert stop_process(second, timeout=15) == 0, log.read_text()  # graceful on SIGTERM
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)

    committed, rolled = published["committed"], published["rolled"]
    assert len(committed) == COMMITTED and len(rolled) == ROLLED_BACK
    done = effects(db)
    ids = sorted(event_id for event_id, _ in done)
    assert ids == sorted(committed), "every committed event's effect exactly once"
    assert not set(ids) & set(rolled)
    assert all(n >= 0 for _, n in done), "no rolled-back payload was ever handled"
    assert len(before_restart) < COMMITTED, "the kill happened before the work was done"

    deliveries = (work / "deliveries.log").read_text().split()
    delivered: dict[str, set[str]] = {}
    for pid, event_id in zip(deliveries[::2], deliveries[1::2], strict=True):
        delivered.setdefault(event_id, set()).add(pid)
    twice = [event_id for event_id, by in delivered.items() if len(by) == 2]
    assert twice, "some events were delivered to both consumers (the killed batch)"
    assert str(committed[MARKER_AT]) in twice

    r = redis_client()
    try:
        prefix = env["TRELLIS_EVENTS_REDIS_PREFIX"]
        streams = [f"{prefix}:fault.work:{n}" for n in range(3)]
        assert sum(r.xpending(s, "fault-effects")["pending"] for s in streams) == 0
        assert sum(r.xlen(s) for s in streams) == COMMITTED
    finally:
        r.close()
