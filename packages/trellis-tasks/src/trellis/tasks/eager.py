"""The ``eager`` tasks provider (the default): tasks run in this process, after commit.

:meth:`Task.enqueue` hands the message over in ``transaction.on_commit``, so a task runs
right after the enqueueing transaction commits (at once outside a transaction) and never for
one that rolls back. It runs in the committing thread, before ``commit()`` or the
``atomic`` block returns to the caller. An exception of the task is logged on
``trellis.tasks`` and never raised into the committing code; retries happen at once, without
the backoff delay (sleeping would hold the request). A task enqueued by a running task runs
after that one returns, not inside it (no recursion, however long the chain). Good for one
machine and for tests; the celery provider takes over when the work outgrows the web process.

``tasks_worker`` under eager has no worker to start: with ``--beat`` it runs the interval
schedules of ``tasks_schedules`` in the foreground (crontab schedules need celery).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence

from trellis.core import hookimpl

from . import hookspecs
from ._runner import run_message
from ._types import TaskMessage

TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}
TRELLIS_PROVIDES = {"tasks": "eager"}
TRELLIS_HOOKSPECS = [hookspecs]

log = logging.getLogger("trellis.tasks")


_local = threading.local()


@hookimpl
def tasks_enqueue(message: TaskMessage) -> str:
    """Run the task now, retrying at once up to its ``max_retries``.

    A task enqueued by a running task (in this thread) runs after the current one finishes,
    in enqueue order: the outermost call drains a per-thread queue (a trampoline), so a task
    that enqueues itself 1,000 times deep does not exhaust the stack.
    """
    pending: deque[TaskMessage] | None = getattr(_local, "pending", None)
    if pending is not None:
        pending.append(message)
        return message.id
    _local.pending = pending = deque()
    try:
        try:
            _run(message)
        finally:
            # Its own error reaches the caller (as for any provider's send) only after what
            # it enqueued ran too: those sends already returned.
            _drain(pending)
    finally:
        del _local.pending
    return message.id


def _drain(pending: deque[TaskMessage]) -> None:
    while pending:
        queued = pending.popleft()
        try:
            _run(queued)
        except Exception as exc:
            # Its send "succeeded" (queued); nobody else would report or keep it.
            from ._enqueue import keep_unsent

            keep_unsent(queued, "'eager'", exc)


def _run(message: TaskMessage) -> None:
    attempt = 0
    while run_message(message, "eager", attempt=attempt, backoff=False).kind == "retry":
        attempt += 1


@hookimpl
def tasks_run_worker(queues: Sequence[str], concurrency: int | None, beat: bool) -> int:
    """No worker: tasks run in the process that enqueues them. ``beat`` runs the schedules."""
    if not beat:
        sys.stdout.write(
            "The eager tasks provider runs every task in the process that enqueues it, after "
            "its transaction commits: there is no worker to start. Run with --beat to enqueue "
            "the periodic schedules from this process, or set TRELLIS_TASKS_PROVIDER=celery.\n"
        )
        return 0
    run_schedules()
    return 0


def run_schedules(*, stop_after: float | None = None) -> int:
    """Enqueue each interval schedule now and every ``every`` after, until interrupted.

    :param stop_after: return after this many seconds (tests); ``None`` runs until Ctrl-C.
    :return: how many runs were enqueued.
    """
    from django.db import close_old_connections

    from ._registry import all_schedules

    schedules = [s for _, s in all_schedules() if s.every is not None]
    for _, skipped in all_schedules():
        if skipped.every is None:
            log.warning("schedule %r uses a crontab, which needs celery: skipped", skipped.name)
    started = time.monotonic()
    due = dict.fromkeys((s.name for s in schedules), started)
    enqueued = 0
    sys.stdout.write(f"eager beat: {len(schedules)} schedule(s)\n")
    try:
        while stop_after is None or time.monotonic() - started < stop_after:
            now = time.monotonic()
            for schedule in schedules:
                if due[schedule.name] <= now:
                    assert schedule.every is not None
                    due[schedule.name] = now + schedule.every.total_seconds()
                    close_old_connections()
                    try:
                        schedule.task.enqueue(**schedule.kwargs)
                        enqueued += 1
                    except Exception:
                        log.exception("schedule %r could not enqueue", schedule.name)
            wake = min(due.values(), default=now + 1.0)
            time.sleep(max(0.05, min(1.0, wake - time.monotonic())))
    except KeyboardInterrupt:
        pass
    return enqueued
