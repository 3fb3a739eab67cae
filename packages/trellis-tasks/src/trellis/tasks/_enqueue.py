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
            # Never raise here: the caller's data is committed, and an exception would make
            # the committing code fail (a 500 for committed work) and skip the caller's later
            # on_commit callbacks.
            keep_unsent(message, _provider_name(), exc)

    # robust: even an error keep_unsent cannot handle must not cost the caller's callbacks.
    transaction.on_commit(send, using=alias, robust=True)
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


def _provider_name() -> str:
    try:
        return repr(get_host().selected_provider("tasks"))
    except Exception:  # the selection itself may be what failed; the log must still happen
        return "(unknown)"


def keep_unsent(message: TaskMessage, provider: str, exc: BaseException) -> None:
    """Log a task that could not be handed to ``provider`` and keep it for ``tasks_requeue``.

    A durable task already has its record (state ``ready``). A plain one gets a record now,
    in a transaction of its own (the caller's has committed), so ``tasks_requeue`` sends it
    again as a durable task; if even that insert fails the task is lost, and the log says so.
    """
    from .models import TaskRecord

    error = f"could not be sent to provider {provider}: {type(exc).__name__}: {exc}"
    if message.durable:
        log.error(
            "durable task %s (%s) %s; its record stays ready and tasks_requeue sends it again",
            message.name,
            message.id,
            error,
            exc_info=exc,
        )
        return
    alias = router.db_for_write(TaskRecord)
    now = timezone.now()
    try:
        with transaction.atomic(using=alias):
            TaskRecord.objects.using(alias).create(
                id=message.id,
                name=message.name,
                kwargs=dict(message.kwargs),
                queue=message.queue,
                enqueued_at=now,
                updated_at=now,
                error=error,
            )
    except Exception as record_exc:
        log.error(
            "task %s (%s) %s, and its TaskRecord could not be written either (%s: %s): the "
            "task is lost; its kwargs were %r",
            message.name,
            message.id,
            error,
            type(record_exc).__name__,
            record_exc,
            dict(message.kwargs),
            exc_info=exc,
        )
        return
    log.error(
        "task %s (%s) %s; kept as a ready TaskRecord, so tasks_requeue sends it again",
        message.name,
        message.id,
        error,
        exc_info=exc,
    )
