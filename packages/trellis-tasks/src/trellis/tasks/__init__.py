"""trellis-tasks: background work behind one facade, whichever engine runs it.

Make a task with :func:`task` (in the spirit of DEP 14 / django-tasks), contribute it from a
plugin's ``tasks_handlers`` hook, and :meth:`Task.enqueue` it with keyword-only JSON
arguments: it is sent once the current transaction commits, to the provider selected with
``TRELLIS_TASKS_PROVIDER`` (``eager``, in-process, by default; ``celery``).
"""

from __future__ import annotations

from ._enqueue import enqueue
from ._errors import (
    InvalidTaskName,
    TaskArgumentsError,
    TaskError,
    TaskResultNotFound,
    UnknownTask,
)
from ._registry import all_tasks, find_task
from ._runner import Outcome, run_message
from ._types import Schedule, Task, TaskMessage, TaskResult, TaskStatus, task
from ._version import __version__


def get_result(task_id: str) -> TaskResult:
    """The :class:`TaskResult` of a durable task by id (status, attempts, error).

    :raises TaskResultNotFound: no durable record with that id.
    """
    from .selectors import task_result

    return task_result(task_id)


def claim(key: str) -> bool:
    """Claim an idempotency key in the current transaction; see :func:`services.claim`."""
    from .services import claim as _claim

    return _claim(key)


__all__ = [
    "InvalidTaskName",
    "Outcome",
    "Schedule",
    "Task",
    "TaskArgumentsError",
    "TaskError",
    "TaskMessage",
    "TaskResult",
    "TaskResultNotFound",
    "TaskStatus",
    "UnknownTask",
    "__version__",
    "all_tasks",
    "claim",
    "enqueue",
    "find_task",
    "get_result",
    "run_message",
    "task",
]
