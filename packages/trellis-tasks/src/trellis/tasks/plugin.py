"""The ``tasks`` plugin: defines the contract; adds the app, the heartbeat check and panel,
and the periodic ``tasks.requeue`` of durable tasks.

Registered as entry point ``tasks``. Providers are separate plugins (``tasks-eager``,
``tasks-celery``) so each can be allowed, denied or replaced on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from trellis.core import DashboardPanel, HealthCheck, HealthResult, get_host, hookimpl

from . import hookspecs
from ._registry import queues
from ._settings import heartbeat_max_age, requeue_after
from ._types import Schedule, Task, task

TRELLIS_HOOKSPECS = [hookspecs]
TRELLIS_IMPLEMENTS = {"core": ">=1.1,<2", "tasks": ">=1.0,<2"}

REQUEUE_EVERY = timedelta(minutes=10)


@task(name="tasks.requeue", max_retries=0)
def requeue(older_than: int | None = None) -> int:
    """Resend durable tasks unfinished for ``older_than`` s (``TRELLIS_TASKS_REQUEUE_AFTER``)."""
    from .services import tasks_requeue

    seconds = requeue_after() if older_than is None else older_than
    return tasks_requeue(older_than=timedelta(seconds=seconds)).requeued


@hookimpl
def core_django_apps() -> Sequence[str]:
    return ["trellis.tasks"]


@hookimpl
def core_health_checks() -> Sequence[HealthCheck]:
    return [HealthCheck("tasks.heartbeat", heartbeat_check, deep=True)]


@hookimpl
def core_dashboard_panels() -> Sequence[DashboardPanel]:
    return [
        DashboardPanel(
            "tasks.queues",
            "Task queues",
            ["Queue", "Provider", "Last picked up", "Age", "Pending durable", "Failed durable"],
            queue_rows,
            empty="No task queue yet: no plugin contributes tasks.",
        )
    ]


@hookimpl
def tasks_handlers() -> Sequence[Task]:
    return [requeue]


@hookimpl
def tasks_schedules() -> Sequence[Schedule]:
    return [Schedule("tasks.requeue", requeue, every=REQUEUE_EVERY)]


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def queue_rows() -> list[list[object]]:
    """The dashboard's rows: one per queue."""
    from .selectors import queue_states

    provider = get_host().selected_provider("tasks")
    rows: list[list[object]] = []
    for state in queue_states(queues(), provider):
        picked = state.picked_at.strftime("%Y-%m-%d %H:%M:%S UTC") if state.picked_at else "never"
        rows.append(
            [state.queue, state.provider, picked, _age(state.age()), state.pending, state.failed]
        )
    return rows


def heartbeat_check() -> HealthResult:
    """Warn when a queue holds durable work older than the limit and no worker picked up a
    task of it within the limit (``TRELLIS_TASKS_HEARTBEAT_MAX_AGE``): workers are down, or
    none consumes that queue."""
    from django.utils import timezone

    from .selectors import queue_states

    limit = heartbeat_max_age()
    provider = get_host().selected_provider("tasks")
    now = timezone.now()
    stalled = []
    details: dict[str, object] = {"provider": provider, "max_age_s": limit}
    for state in queue_states(queues(), provider):
        age = state.age(now)
        details[state.queue] = {
            "age_s": None if age is None else round(age, 1),
            "pending": state.pending,
            "failed": state.failed,
        }
        waiting = state.oldest_pending is not None and (
            (now - state.oldest_pending).total_seconds() > limit
        )
        if waiting and (age is None or age > limit):
            seen = "never picked up" if age is None else f"last picked up {age:.0f} s ago"
            stalled.append(f"{state.queue} ({state.pending} pending, {seen})")
    if stalled:
        return HealthResult(
            "warn",
            f"queue(s) with pending durable tasks not picked up for over {limit} s: "
            f"{', '.join(stalled)}; start a worker (manage.py tasks_worker) for them, and if "
            "one runs, their messages were never sent or were lost (broker down or restarted): "
            "manage.py tasks_requeue sends them again",
            details,
        )
    return HealthResult("ok", f"provider {provider!r}: no queue stalled", details)
