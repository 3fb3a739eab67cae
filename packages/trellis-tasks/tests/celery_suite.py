"""The celery provider against real engines; run by test_celery.py in its own pytest process.

Not collected by the repository's run (the name does not start with ``test_``): it needs
``tasks_test_settings`` (PostgreSQL shared with the workers) instead of the SQLite settings
every other package's tests use. Each worker is a real ``manage.py tasks_worker`` process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection, transaction

from trellis.core.testing import stop_process, tied_to_this_process
from trellis.tasks import celery as celery_provider
from trellis.tasks import eager, get_result, plugin
from trellis.tasks.models import TaskRecord
from trellis.tasks.testing import TasksContract, claimed, probes, wait_for_keys

HERE = Path(__file__).resolve().parent
LOGS = Path(os.environ.get("TASKS_TEST_LOG_DIR", HERE))
AMQP_URL = os.environ.get("TASKS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


class Worker:
    """A ``manage.py tasks_worker`` in its own process group (so it can be killed whole)."""

    def __init__(self, *queues: str, broker: str | None = None, concurrency: int = 2) -> None:
        env = dict(os.environ)
        env["TASKS_TEST_DATABASE_URL"] = _test_database_url()
        env["PYTHONPATH"] = str(HERE)
        if broker:
            env["TASKS_TEST_BROKER_URL"] = broker
        args = [f"--queue={q}" for q in queues] + [f"--concurrency={concurrency}"]
        self.log = LOGS / f"worker-{'-'.join(queues)}-{uuid.uuid4().hex[:6]}.log"
        self.handle = self.log.open("wb")
        self.process = subprocess.Popen(
            tied_to_this_process([sys.executable, "-m", "django", "tasks_worker", *args]),
            env=env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while b" ready." not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not start:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once: no clean-up, no acks."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
        stop_process(self.process, timeout=10)
        self.handle.close()


def _test_database_url() -> str:
    base = os.environ["TASKS_TEST_DATABASE_URL"].rsplit("/", 1)[0]
    return f"{base}/{connection.settings_dict['NAME']}"


@pytest.fixture(scope="session")
def redis_worker(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[Worker]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        worker = Worker("contract", "tasks")
    try:
        yield worker
    finally:
        worker.stop()


class TestCelery(TasksContract):
    provider = "celery"
    plugins = (plugin, eager, celery_provider, probes)
    timeout = 20.0

    @pytest.fixture(autouse=True)
    def _worker(self, redis_worker: Worker) -> None:
        """The Redis worker runs for the whole session."""


@pytest.mark.usefixtures("transactional_db")
def test_a_task_that_kills_its_worker_is_failed_after_max_retries(redis_worker: Worker) -> None:
    from tasks_fault_plugin import crash

    result = crash.enqueue()  # max_retries=0: the first delivery dies, the second gives up
    deadline = time.monotonic() + 40
    while get_result(result.id).status != "failed":
        assert time.monotonic() < deadline, redis_worker.output()
        time.sleep(0.1)
    record = get_result(result.id)
    assert record.attempts == 1 and "worker died 1 time(s) running it" in record.error


@pytest.mark.usefixtures("transactional_db")
def test_a_killed_worker_loses_no_committed_task_and_runs_no_rolled_back_one() -> None:
    committed = [f"c{n}-{uuid.uuid4().hex[:8]}" for n in range(6)]
    rolled_back = [f"r{n}-{uuid.uuid4().hex[:8]}" for n in range(4)]
    from tasks_fault_plugin import effect

    ids = {}
    for n, key in enumerate(committed):
        with transaction.atomic():
            ids[key] = effect.enqueue(key=key, seconds=1.5).id
            if n < len(rolled_back):
                try:
                    with transaction.atomic():
                        effect.enqueue(key=rolled_back[n], seconds=0.1)
                        raise RuntimeError("roll this one back")
                except RuntimeError:
                    pass
    first = Worker("fault")
    try:
        deadline = time.monotonic() + 20
        while not TaskRecord.objects.filter(state="running", name="fault.effect").exists():
            assert time.monotonic() < deadline, f"nothing started:\n{first.output()}"
            time.sleep(0.05)
        time.sleep(0.3)  # mid-run: inside the effect's transaction
        first.kill()
    finally:
        first.stop()
    killed = set(TaskRecord.objects.filter(state="running").values_list("id", flat=True))
    assert killed, "the kill should have caught a task mid-run"
    second = Worker("fault")
    try:
        effects = wait_for_keys([f"effect:{key}" for key in committed], timeout=40)
        assert effects == {f"effect:{key}" for key in committed}, second.output()
        deadline = time.monotonic() + 10
        while TaskRecord.objects.exclude(state="successful").filter(name="fault.effect").exists():
            assert time.monotonic() < deadline, second.output()
            time.sleep(0.05)
    finally:
        second.stop()
    from trellis.tasks.models import IdempotencyKey

    assert claimed(f"effect:{key}" for key in rolled_back) == set()
    assert not IdempotencyKey.objects.filter(key__startswith="run:r").exists(), "rolled back ran"
    runs = {
        key: IdempotencyKey.objects.filter(key__startswith=f"run:{key}:").count()
        for key in committed
    }
    for task_id in killed:
        key = next(k for k, v in ids.items() if v == task_id)
        assert runs[key] >= 2, f"the killed run of {key} was not redelivered: {runs}"
        assert get_result(task_id).attempts >= 2
    assert all(get_result(task_id).status == "successful" for task_id in ids.values())
    assert TaskRecord.objects.filter(name="fault.effect").count() == len(committed)


@pytest.mark.usefixtures("transactional_db")
def test_round_trip_through_rabbitmq(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = Worker("contract", broker=AMQP_URL, concurrency=1)
    try:
        monkeypatch.setenv("TRELLIS_TASKS_BROKER_URL", AMQP_URL)
        key = f"amqp-{uuid.uuid4().hex}"
        result = probes.durable.enqueue(key=key)
        assert wait_for_keys([key], 20) == {key}, worker.output()
        deadline = time.monotonic() + 10
        while get_result(result.id).status != "successful":
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.05)
    finally:
        worker.stop()
