"""Hooks of the ``tasks`` contract: what runs in the background, when, and on which engine.

``tasks_handlers`` and ``tasks_schedules`` are *extension* hooks: every plugin contributes
its tasks and periodic schedules. ``tasks_enqueue`` and ``tasks_run_worker`` are *provider*
hooks (``firstresult``): only the provider selected with ``TRELLIS_TASKS_PROVIDER`` (default
``eager``) answers. Callers never call these hooks: they use :func:`trellis.tasks.task` and
:func:`trellis.tasks.enqueue`, which check arguments and send after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence

from trellis.core import Contract, hookspec

from ._types import Schedule, Task, TaskMessage

CONTRACT = Contract(
    "tasks", "1.0.0", default_provider="eager", description="Background and periodic tasks"
)


@hookspec
def tasks_handlers() -> Sequence[Task]:
    """Tasks the plugin can run, made with :func:`trellis.tasks.task`.

    Extension hook. Every process that enqueues or runs tasks collects them, so a worker
    finds a task by its name; two plugins contributing one name is an error naming both.

    :return: the plugin's :class:`~trellis.tasks.Task` objects.
    """


@hookspec
def tasks_schedules() -> Sequence[Schedule]:
    """Periodic schedules: a task enqueued every interval (or on a crontab, celery only).

    Extension hook. The celery provider turns them into the beat schedule
    (``tasks_worker --beat``); the eager provider runs them in ``tasks_worker --beat`` too.
    A schedule's task need not also be returned by :func:`tasks_handlers`.

    :return: the plugin's :class:`~trellis.tasks.Schedule` objects.
    """


@hookspec(firstresult=True)
def tasks_enqueue(message: TaskMessage) -> str:
    """Send ``message`` to be run by :func:`trellis.tasks.run_message` (once per delivery).

    Provider hook. Called after the enqueueing transaction committed (or by
    ``tasks_requeue``); the message is JSON (:meth:`~trellis.tasks.TaskMessage.as_json`).
    The provider delivers it at least once to a process that calls ``run_message`` with its
    attempt number, and retries after the delay an outcome ``retry`` gives. Raise if the
    message could not be handed over: never drop it silently.

    :param message: id, task name, queue, JSON arguments, enqueue time, durable flag.
    :return: the message id.
    """


@hookspec(firstresult=True)
def tasks_run_worker(queues: Sequence[str], concurrency: int | None, beat: bool) -> int:
    """Run a worker for the provider until it is stopped (``manage.py tasks_worker``).

    Provider hook.

    :param queues: queues to consume; every contributed task's queue when empty.
    :param concurrency: worker processes or threads; ``None`` for the provider's default.
    :param beat: also enqueue the periodic schedules of ``tasks_schedules``.
    :return: the exit status.
    """
