"""Typed errors of the tasks subsystem; each message names the task or value at fault."""

from __future__ import annotations

from trellis.core import TrellisError


class TaskError(TrellisError):
    """Base class of every tasks error."""


class UnknownTask(TaskError, LookupError):
    """No installed plugin contributes a task of that name (``tasks_handlers``)."""


class TaskArgumentsError(TaskError, TypeError):
    """Arguments a task cannot take: not JSON values, or not what its function accepts."""


class InvalidTaskName(TaskError, ValueError):
    """A task, queue or schedule name is malformed."""


class TaskResultNotFound(TaskError, LookupError):
    """No durable record of that task id (only durable tasks keep one)."""
