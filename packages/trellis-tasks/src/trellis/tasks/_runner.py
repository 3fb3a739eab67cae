"""The worker's side, shared by every provider: find the task, keep records, run it once."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Literal

from django.db import DatabaseError, IntegrityError, models
from django.utils import timezone

from ._errors import TaskError
from ._registry import find_task
from ._types import Task, TaskMessage

log = logging.getLogger("trellis.tasks")

HEARTBEAT_EVERY = 1.0
"""Seconds between heartbeat writes of one process for one queue (one UPDATE, not one per task)."""

_beats: dict[str, float] = {}
_beats_lock = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    """How a run ended; ``retry_in`` is the delay before the next attempt when retrying."""

    kind: Literal["successful", "retry", "failed", "skipped"]
    error: BaseException | None = None
    retry_in: float = 0.0


def heartbeat(queue: str, provider: str) -> None:
    """Record that a worker of ``provider`` picked up a task of ``queue`` now (throttled)."""
    now = time.monotonic()
    with _beats_lock:
        if now - _beats.get(queue, -HEARTBEAT_EVERY) < HEARTBEAT_EVERY:
            return
        _beats[queue] = now
    from .models import QueueHeartbeat

    try:
        QueueHeartbeat.objects.update_or_create(
            queue=queue, defaults={"provider": provider, "picked_at": timezone.now()}
        )
    except IntegrityError:
        pass  # another process created the row first; its beat is as fresh as ours
    except DatabaseError:
        log.warning("could not record the heartbeat of queue %r", queue, exc_info=True)


def retry_delay(task: Task, attempt: int) -> float:
    """Exponential backoff with jitter: uniform in [half, all] of ``task.backoff(attempt)``."""
    ceiling = task.backoff(attempt)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security


def run_message(
    message: TaskMessage, provider: str, *, attempt: int = 0, backoff: bool = True
) -> Outcome:
    """Run one delivery of ``message``: attempt ``attempt`` (0 the first).

    A durable task already finished (a redelivery after its worker died) is skipped; its
    record says which attempt runs and ends ``successful`` or, after ``max_retries``,
    ``failed`` with the error. Its record also counts deliveries: one that would exceed
    ``max_retries + 1`` attempts (the worker died running it each time: killed, out of
    memory) marks it ``failed`` and is skipped, so a task that kills its worker is not
    redelivered forever. Exceptions of the task are returned in the outcome, never raised:
    the provider decides how to retry.

    :param backoff: ``False`` for a provider that retries at once (eager): the outcome's
        ``retry_in`` is 0 and the log says "retrying now".
    """
    from .models import TaskRecord

    heartbeat(message.queue, provider)
    try:
        task = find_task(message.name)
    except TaskError as exc:
        log.error("task %s (%s) cannot run: %s", message.name, message.id, exc)
        if message.durable:
            _finish(message.id, "failed", str(exc))
        return Outcome("failed", exc)
    records = TaskRecord.objects.filter(pk=message.id)
    if message.durable:
        unfinished = records.exclude(state__in=["successful", "failed"])
        started = unfinished.filter(attempts__lt=task.max_retries + 1).update(
            state="running",
            attempts=models.F("attempts") + 1,
            started_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if not started:
            record = records.first()
            if record is not None and record.state not in ("successful", "failed"):
                return _give_up_crash_loop(task, message, record.attempts, record.error)
            if record is not None:
                log.info(
                    "task %s (%s) already finished; delivery skipped", message.name, message.id
                )
                return Outcome("skipped")
    try:
        task.func(**message.kwargs)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if attempt < task.max_retries:
            delay = retry_delay(task, attempt) if backoff else 0.0
            log.warning(
                "task %s (%s) failed (attempt %d of %d), retrying %s: %s",
                message.name,
                message.id,
                attempt + 1,
                task.max_retries + 1,
                f"in {delay:.1f} s" if backoff else "now",
                error,
            )
            if message.durable:
                records.update(state="ready", error=error, updated_at=timezone.now())
            return Outcome("retry", exc, delay)
        log.error(
            "task %s (%s) failed after %d attempt(s): %s",
            message.name,
            message.id,
            attempt + 1,
            error,
            exc_info=exc,
        )
        if message.durable:
            _finish(message.id, "failed", error)
        return Outcome("failed", exc)
    if message.durable:
        _finish(message.id, "successful", "")
    return Outcome("successful")


def _give_up_crash_loop(task: Task, message: TaskMessage, attempts: int, last: str) -> Outcome:
    """A delivery past ``max_retries + 1`` attempts: the earlier ones never finished."""
    # A recorded failure leaves an error; with none, every attempt ended with its worker.
    died = (
        f"the worker died {attempts} time(s) running it"
        if not last
        else f"{attempts} attempt(s) started, at least one ended with its worker dying "
        f"(last error: {last})"
    )
    error = (
        f"gave up: {died} (killed or out of memory?); max_retries={task.max_retries} allows "
        f"{task.max_retries + 1} attempt(s). Find why the process dies, then enqueue it again"
    )
    log.error("task %s (%s) %s", message.name, message.id, error)
    _finish(message.id, "failed", error)
    return Outcome("failed", TaskError(error))


def _finish(task_id: str, state: str, error: str) -> None:
    from .models import TaskRecord

    now = timezone.now()
    TaskRecord.objects.filter(pk=task_id).update(
        state=state, error=error, finished_at=now, updated_at=now
    )
