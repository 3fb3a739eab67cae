"""The facade's promises: bad input refused at enqueue, never a silent drop."""

from __future__ import annotations

import types
from collections.abc import Sequence
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from trellis.core import Host, hookimpl
from trellis.tasks import (
    TaskArgumentsError,
    TaskError,
    TaskMessage,
    TaskResultNotFound,
    UnknownTask,
    enqueue,
    get_result,
    hookspecs,
    task,
)
from trellis.tasks.eager import run_schedules
from trellis.tasks.models import TaskRecord
from trellis.tasks.testing import claimed, probes

pytestmark = pytest.mark.django_db(transaction=True)


def _broken_provider() -> types.ModuleType:
    module = types.ModuleType("broken_tasks_provider")
    module.TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}  # type: ignore[attr-defined]
    module.TRELLIS_PROVIDES = {"tasks": "broken"}  # type: ignore[attr-defined]
    module.TRELLIS_HOOKSPECS = [hookspecs]  # type: ignore[attr-defined]

    @hookimpl
    def tasks_enqueue(message: TaskMessage) -> str:
        raise ConnectionError("broker down")

    @hookimpl
    def tasks_run_worker(queues: Sequence[str], concurrency: int | None, beat: bool) -> int:
        return 3

    module.tasks_enqueue = tasks_enqueue  # type: ignore[attr-defined]
    module.tasks_run_worker = tasks_run_worker  # type: ignore[attr-defined]
    return module


def test_unknown_task_by_name_lists_close_names(tasks_host: Host) -> None:
    with pytest.raises(UnknownTask, match=r"'contract\.recor'.*did you mean 'contract\.record'"):
        enqueue("contract.recor", key="x")


def test_a_task_no_plugin_contributes_is_refused(tasks_host: Host) -> None:
    stray = task(name="stray.job")(lambda: None)
    with pytest.raises(UnknownTask, match="tasks_handlers"):
        stray.enqueue()


def test_a_same_named_task_with_another_function_is_refused(tasks_host: Host) -> None:
    impostor = task(name="contract.record")(lambda key, payload=None: None)
    with pytest.raises(TaskError, match="another function"):
        impostor.enqueue(key="x")


def test_non_json_arguments_leave_nothing_behind(tasks_host: Host) -> None:
    with pytest.raises(TaskArgumentsError, match="argument 'key' is a set"):
        probes.durable.enqueue(key={"a"})
    with pytest.raises(TaskArgumentsError, match="missing a required argument: 'key'"):
        probes.durable.enqueue()
    assert TaskRecord.objects.count() == 0


def test_get_result_of_an_unknown_id(tasks_host: Host) -> None:
    with pytest.raises(TaskResultNotFound, match="'nope'"):
        get_result("nope")


def test_requeue_leaves_recent_and_finished_records(tasks_host: Host) -> None:
    with transaction.atomic():
        result = probes.durable.enqueue(key="done")
    assert get_result(result.id).status == "successful"
    now = timezone.now()
    TaskRecord.objects.create(
        id="b" * 32,
        name="contract.durable",
        kwargs={"key": "fresh"},
        queue="contract",
        enqueued_at=now,
        updated_at=now,
    )
    TaskRecord.objects.filter(pk=result.id).update(updated_at=now - timedelta(days=1))
    call_command("tasks_requeue", "--older-than=60", "--dry-run")
    call_command("tasks_requeue", "--older-than=60")
    assert claimed(["fresh"]) == set()
    assert get_result("b" * 32).status == "ready"


def test_eager_beat_enqueues_the_interval_schedules(tasks_host: Host) -> None:
    now = timezone.now()
    TaskRecord.objects.create(
        id="c" * 32,
        name="contract.durable",
        kwargs={"key": "beat"},
        queue="contract",
        enqueued_at=now - timedelta(days=1),
        updated_at=now - timedelta(days=1),
    )
    assert run_schedules(stop_after=0.3) == 1  # tasks.requeue, once at start
    assert claimed(["beat"]) == {"beat"}  # requeued by the scheduled tasks.requeue
