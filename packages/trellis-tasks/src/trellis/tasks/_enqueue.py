"""The caller's side: check, record (durable), and send once the transaction commits."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from trellis.core import get_host

from ._errors import TaskError
from ._registry import find_task
from ._types import Task, TaskMessage, TaskResult

log = logging.getLogger("trellis.tasks")


def enqueue_task(task: Task, kwargs: Mapping[str, Any]) -> TaskResult:
    """What :meth:`Task.enqueue` does; see there."""
    task.check_arguments(kwargs)
    host = get_host()
    contributed = find_task(task.name, host)
    if contributed.func is not task.func:
        raise TaskError(
            f"task {task.name!r} is contributed by a plugin with another function "
            f"({contributed.func.__module__}.{contributed.func.__qualname__}); a worker would "
            "run that one, so rename this task"
        )
    task_id = uuid.uuid4().hex
    kwargs = dict(kwargs)
    from .models import TaskRecord

    alias = router.db_for_write(TaskRecord)
    now = timezone.now()
    if task.durable:
        # In the caller's transaction: a rollback leaves no record, and no message is sent.
        TaskRecord.objects.using(alias).create(
            id=task_id,
            name=task.name,
            kwargs=kwargs,
            queue=task.queue,
            enqueued_at=now,
            updated_at=now,
        )

    def send() -> None:
        message = TaskMessage(
            id=task_id,
            name=task.name,
            queue=task.queue,
            kwargs=kwargs,
            enqueued_at=time.time(),
            durable=task.durable,
        )
        try:
            host.call("tasks_enqueue", message=message)
        except Exception as exc:
            if not task.durable:
                raise TaskError(
                    f"task {task.name!r} ({task_id}) could not be sent to provider "
                    f"{host.selected_provider('tasks')!r}: {type(exc).__name__}: {exc}; it is "
                    "lost (make the task durable to have tasks_requeue send it again)"
                ) from exc
            log.exception(
                "durable task %r (%s) could not be sent; tasks_requeue will send it again",
                task.name,
                task_id,
            )

    transaction.on_commit(send, using=alias)
    return TaskResult(
        id=task_id,
        task_name=task.name,
        queue=task.queue,
        kwargs=kwargs,
        durable=task.durable,
        enqueued_at=now,
    )


def enqueue(name: str, /, **kwargs: Any) -> TaskResult:
    """Enqueue the contributed task called ``name`` with keyword-only JSON arguments.

    :raises UnknownTask: no installed plugin contributes ``name``.
    :raises TaskArgumentsError: an argument is not JSON or not accepted by the task.
    """
    return find_task(name).enqueue(**kwargs)
