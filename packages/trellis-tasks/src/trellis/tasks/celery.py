"""The ``celery`` tasks provider: a Celery app configured from settings, Redis or RabbitMQ.

Needs the ``celery`` extra (``pip install 'trellis-tasks[celery]'``); this module imports
Celery only when called, so the plugin loads (and ``trellis check`` stays clean) without it.

* broker ``TRELLIS_TASKS_BROKER_URL`` (``redis://`` or ``amqp://``), JSON only
  (``accept_content=["json"]``), no result backend (durable tasks keep their own record);
* every task ``acks_late=True`` and ``reject_on_worker_lost=True`` (a task option: the
  ``task_reject_on_worker_lost`` spelling on a decorator is ignored), prefetch 1, so a
  message is acknowledged only after its task ran and is redelivered when its worker dies:
  at once when a pool process dies, and when the whole worker is killed, at once on RabbitMQ
  but on Redis only after ``TRELLIS_TASKS_VISIBILITY_TIMEOUT``; a durable task's record
  stops a crash loop after ``max_retries + 1`` attempts;
* retries with exponential backoff and jitter (``Task.max_retries``, ``retry_backoff``);
* one queue per subsystem (``Task.queue``); beat schedule from ``tasks_schedules``.
"""

from __future__ import annotations

from collections.abc import Sequence

from trellis.core import hookimpl

from . import hookspecs
from ._types import TaskMessage

TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}
TRELLIS_PROVIDES = {"tasks": "celery"}
TRELLIS_HOOKSPECS = [hookspecs]


@hookimpl
def tasks_enqueue(message: TaskMessage) -> str:
    """Publish the message to its queue (JSON), with Celery's publish retries."""
    from ._celery_app import send

    return send(message)


@hookimpl
def tasks_run_worker(queues: Sequence[str], concurrency: int | None, beat: bool) -> int:
    """Run ``celery worker`` (prefork) for the queues, with embedded beat when asked."""
    from ._celery_app import run_worker

    return run_worker(queues, concurrency, beat)
