"""The ``tasks`` contract suite: what every tasks provider must do, as pytest tests.

Run it against a provider by subclassing it in a ``Test*`` class (needs pytest, pytest-django
and ``trellis-core[testing]``); the database must be one every process of the provider
shares (the worker marks records there)::

    from trellis.tasks.testing import TasksContract

    class TestMyQueue(TasksContract):
        provider = "myqueue"
        plugins = [my_queue_plugin]     # and start your worker in a fixture

The probe tasks (:data:`probes`, queue ``contract``) must be registered in the worker's
process too. Tests use real commits (``transactional_db``): a provider is judged on what
happens after commit and after rollback.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any, ClassVar

import pytest
from django.db import transaction

from trellis.core import Host
from trellis.core.testing import ContractSuite, isolated_host

from . import _probes as probes
from . import eager, plugin
from ._errors import TaskArgumentsError, UnknownTask
from .selectors import task_result

__all__ = ["TasksContract", "claimed", "probes", "wait_for_keys"]


class _Rollback(Exception):
    pass


def claimed(keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` a probe claimed."""
    from .models import IdempotencyKey

    return set(IdempotencyKey.objects.filter(key__in=list(keys)).values_list("key", flat=True))


def wait_for_keys(keys: Iterable[str], timeout: float) -> set[str]:
    """Poll until every key is claimed or ``timeout`` passes; return those claimed."""
    wanted = set(keys)
    deadline = time.monotonic() + timeout
    while True:
        found = claimed(wanted)
        if found == wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


class TasksContract(ContractSuite):
    """Behaviour every ``tasks`` provider must show, through the public facade."""

    contract = "tasks"
    provider: ClassVar[str] = "eager"
    plugins: ClassVar[Any] = (plugin, eager, probes)
    timeout: ClassVar[float] = 20.0
    """Seconds to wait for a task to run (a worker in another process)."""

    def make_host(self) -> Host:
        return isolated_host(*self.plugins, providers={"tasks": self.provider})

    @pytest.fixture(autouse=True)
    def _real_commits(self, transactional_db: None, contract_host: Host) -> None:
        """Every test commits for real and runs against the provider under test."""

    @staticmethod
    def key() -> str:
        return f"k-{uuid.uuid4().hex}"

    def test_runs_after_commit_not_before(self) -> None:
        key = self.key()
        with transaction.atomic():
            result = probes.record.enqueue(key=key, payload={"n": [1, 2.5, None, True]})
            assert claimed([key]) == set(), "a task must not run before its transaction commits"
        assert result.task_name == "contract.record"
        assert result.queue == "contract"
        payload = f'{key}#payload={{"n": [1, 2.5, null, true]}}'
        assert wait_for_keys([key, payload], self.timeout) == {key, payload}

    def test_rolled_back_enqueue_never_runs(self) -> None:
        lost, sentinel = self.key(), self.key()
        with pytest.raises(_Rollback):
            self._enqueue_then_roll_back(lost)
        probes.record.enqueue(key=sentinel)
        assert wait_for_keys([sentinel], self.timeout) == {sentinel}
        time.sleep(0.2)
        assert claimed([lost]) == set()

    def test_enqueue_by_name_outside_a_transaction(self) -> None:
        from . import enqueue

        key = self.key()
        enqueue("contract.record", key=key)
        assert wait_for_keys([key], self.timeout) == {key}

    def test_bad_input_is_refused_at_enqueue(self) -> None:
        from datetime import datetime

        from . import enqueue

        with pytest.raises(UnknownTask, match=r"'contract\.recrod'"):
            enqueue("contract.recrod", key="x")
        with pytest.raises(TaskArgumentsError, match=r"argument 'key' is a datetime\.datetime"):
            probes.record.enqueue(key=datetime(2026, 1, 1))
        with pytest.raises(TaskArgumentsError, match="unexpected keyword argument 'nope'"):
            probes.record.enqueue(key="x", nope=1)

    def test_retries_until_success(self) -> None:
        key = self.key()
        probes.flaky.enqueue(key=key, failures=2)
        attempts = {f"{key}#attempt{n}" for n in range(3)}
        assert wait_for_keys([key, *attempts], self.timeout) == {key, *attempts}
        assert claimed([f"{key}#attempt3"]) == set(), "ran again after it succeeded"

    def test_durable_task_records_its_result(self) -> None:
        key = self.key()
        with transaction.atomic():
            result = probes.durable.enqueue(key=key)
            assert task_result(result.id).status == "ready"
        assert wait_for_keys([key], self.timeout) == {key}
        final = self._wait_finished(result.id)
        assert (final.status, final.attempts, final.error) == ("successful", 1, "")

    def test_durable_failure_is_recorded_after_retries(self) -> None:
        result = probes.durable.enqueue(key=self.key(), fail=True)
        final = self._wait_finished(result.id)
        assert final.status == "failed"
        assert final.attempts == 2  # max_retries=1
        assert "ValueError: probe" in final.error
        assert "fails on purpose" in final.error

    def test_heartbeat_recorded_per_queue(self) -> None:
        from .models import QueueHeartbeat

        # Beats are throttled per process (one write a second), so keep tasks coming until
        # one lands in the table this test started with.
        deadline = time.monotonic() + self.timeout
        while not QueueHeartbeat.objects.filter(queue="contract").exists():
            assert time.monotonic() < deadline, "no heartbeat for queue 'contract'"
            probes.record.enqueue(key=self.key())
            time.sleep(0.25)
        beat = QueueHeartbeat.objects.get(queue="contract")
        assert beat.provider == self.provider

    @staticmethod
    def _enqueue_then_roll_back(key: str) -> None:
        with transaction.atomic():
            probes.record.enqueue(key=key)
            raise _Rollback

    def _wait_finished(self, task_id: str) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            result = task_result(task_id)
            if result.status in ("successful", "failed") or time.monotonic() > deadline:
                return result
            time.sleep(0.05)
