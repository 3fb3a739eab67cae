"""Reads of the tasks subsystem: durable results and the state of each queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Q
from django.utils import timezone

from ._errors import TaskResultNotFound
from ._types import TaskResult


def task_result(task_id: str) -> TaskResult:
    """The :class:`TaskResult` of a durable task, from its record.

    :raises TaskResultNotFound: no record (not durable, rolled back, or never enqueued).
    """
    from .models import TaskRecord

    record = TaskRecord.objects.filter(pk=str(task_id)).first()
    if record is None:
        raise TaskResultNotFound(
            f"no durable task record with id {task_id!r}: only tasks made with "
            "@task(durable=True) keep one, and only once the enqueueing transaction commits"
        )
    return TaskResult(
        id=record.id,
        task_name=record.name,
        queue=record.queue,
        kwargs=record.kwargs,
        durable=True,
        status=record.state,  # type: ignore[arg-type]
        attempts=record.attempts,
        enqueued_at=record.enqueued_at,
        finished_at=record.finished_at,
        error=record.error,
    )


@dataclass(frozen=True)
class QueueState:
    """One queue as the heartbeat check and the dashboard see it."""

    queue: str
    provider: str
    picked_at: datetime | None
    pending: int
    failed: int
    oldest_pending: datetime | None

    def age(self, now: datetime | None = None) -> float | None:
        """Seconds since a worker last picked up a task of this queue; ``None``: never."""
        if self.picked_at is None:
            return None
        return ((now or timezone.now()) - self.picked_at).total_seconds()


def queue_states(known: list[str], provider: str) -> list[QueueState]:
    """Every queue known (from contributed tasks), seen in heartbeats or holding records."""
    from .models import QueueHeartbeat, TaskRecord

    beats = {b.queue: b for b in QueueHeartbeat.objects.all()}
    counts: dict[str, Any] = {
        row["queue"]: row
        for row in TaskRecord.objects.values("queue").annotate(
            pending=Count("pk", filter=Q(state__in=["ready", "running"])),
            failed=Count("pk", filter=Q(state="failed")),
            oldest=Min("enqueued_at", filter=Q(state__in=["ready", "running"])),
        )
    }
    states = []
    for queue in sorted(set(known) | set(beats) | set(counts)):
        beat = beats.get(queue)
        row = counts.get(queue, {})
        states.append(
            QueueState(
                queue=queue,
                provider=beat.provider if beat else provider,
                picked_at=beat.picked_at if beat else None,
                pending=row.get("pending", 0),
                failed=row.get("failed", 0),
                oldest_pending=row.get("oldest"),
            )
        )
    return states
