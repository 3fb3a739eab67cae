"""Tasks, schedules, messages and results: the values of the tasks contract."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, overload

from ._errors import InvalidTaskName, TaskArgumentsError
from ._json import check_json_kwargs
from ._names import validate_queue_name, validate_task_name

DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_BACKOFF = 2.0
MAX_BACKOFF = 600.0

TaskStatus = Literal["ready", "running", "successful", "failed"]
"""DEP 14's statuses, lower-case: queued, picked up, done, given up after its retries."""


@dataclass(frozen=True, eq=False)
class Task:
    """A function that can run in the background, made with :func:`task`.

    Calling the task runs the function now, in this process. :meth:`enqueue` checks the
    arguments and sends it to the selected provider once the current transaction commits.
    """

    func: Callable[..., Any]
    name: str
    queue: str
    durable: bool = False
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_backoff: float = DEFAULT_RETRY_BACKOFF

    def __post_init__(self) -> None:
        validate_task_name(self.name)
        validate_queue_name(self.queue)
        if inspect.iscoroutinefunction(self.func) or inspect.isasyncgenfunction(self.func):
            # Calling it would only create a coroutine, dropped unawaited: the work would
            # never run and the task would count as successful.
            raise InvalidTaskName(
                f"task {self.name!r}: {self.func.__qualname__} is an async def function; a "
                "task calls its function synchronously, so only a coroutine would be created "
                "and the body never run. Make it a plain def (wrap async code in "
                "asyncio.run(...) inside it)"
            )
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise InvalidTaskName(
                f"task {self.name!r}: max_retries must be an int >= 0; got {self.max_retries!r}"
            )
        if not isinstance(self.retry_backoff, (int, float)) or self.retry_backoff < 0:
            raise InvalidTaskName(
                f"task {self.name!r}: retry_backoff must be seconds >= 0; "
                f"got {self.retry_backoff!r}"
            )

    def __call__(self, **kwargs: Any) -> Any:
        return self.func(**kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name} queue={self.queue}{' durable' if self.durable else ''}>"

    def check_arguments(self, kwargs: Mapping[str, object]) -> None:
        """Refuse arguments that are not JSON or that the function does not accept.

        :raises TaskArgumentsError: naming the argument and its type.
        """
        check_json_kwargs(self.name, kwargs)
        try:
            inspect.signature(self.func).bind(**kwargs)
        except TypeError as exc:
            raise TaskArgumentsError(
                f"task {self.name!r} cannot take the arguments {sorted(kwargs)}: {exc}; "
                f"its function is {self.func.__qualname__}{inspect.signature(self.func)}"
            ) from None

    def enqueue(self, **kwargs: Any) -> TaskResult:
        """Send the task with keyword-only JSON arguments; it runs after the transaction commits.

        :raises TaskArgumentsError: an argument is not JSON or not accepted by the function.
        :raises UnknownTask: no installed plugin contributes this task (a worker could not
            find it).
        """
        from ._enqueue import enqueue_task

        return enqueue_task(self, kwargs)

    def backoff(self, attempt: int) -> float:
        """Upper bound of the delay before retry ``attempt`` (0-based): exponential, capped."""
        return float(min(MAX_BACKOFF, self.retry_backoff * (2**attempt)))


@overload
def task(func: Callable[..., Any], /) -> Task: ...


@overload
def task(
    *,
    name: str | None = None,
    queue: str | None = None,
    durable: bool = False,
    max_retries: int = DEFAULT_MAX_RETRIES,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
) -> Callable[[Callable[..., Any]], Task]: ...


def task(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    queue: str | None = None,
    durable: bool = False,
    max_retries: int = DEFAULT_MAX_RETRIES,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
) -> Task | Callable[[Callable[..., Any]], Task]:
    """Make a :class:`Task` of a function (``@task`` or ``@task(name=..., ...)``).

    :param name: dotted name (``blobs.reap``); default ``<module without 'trellis.'>.<function>``.
    :param queue: default: the name's first part, the contributing subsystem ("queues per
        subsystem").
    :param durable: keep a :class:`~trellis.tasks.models.TaskRecord` until the task finishes,
        so a lost message is re-enqueued (``tasks_requeue``) and :func:`get_result` works.
    :param max_retries: retries after a failure (0: none).
    :param retry_backoff: base of the exponential backoff in seconds (with jitter).
    """

    def make(function: Callable[..., Any]) -> Task:
        # "" is a (bad) name given, not "no name": validate it rather than use the default.
        task_name = _default_name(function) if name is None else name
        validate_task_name(task_name)
        return Task(
            func=function,
            name=task_name,
            queue=queue or task_name.split(".", 1)[0],
            durable=durable,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
        )

    return make(func) if func is not None else make


def _default_name(function: Callable[..., Any]) -> str:
    module = function.__module__.removeprefix("trellis.")
    return f"{module}.{function.__name__}"


@dataclass(frozen=True)
class Schedule:
    """A task enqueued periodically: every ``every``, or on a ``crontab`` (celery only).

    :param name: unique schedule name (dotted, like task names).
    :param task: the :class:`Task` to enqueue.
    :param every: interval.
    :param kwargs: JSON arguments for each run.
    :param crontab: five cron fields (``"0 3 * * *"``) instead of ``every``.
    """

    name: str
    task: Task
    every: timedelta | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    crontab: str | None = None

    def __post_init__(self) -> None:
        validate_task_name(self.name)
        if (self.every is None) == (self.crontab is None):
            raise InvalidTaskName(
                f"schedule {self.name!r}: give exactly one of every= (a timedelta) or crontab= "
                f"(five cron fields); got every={self.every!r}, crontab={self.crontab!r}"
            )
        if self.every is not None and self.every <= timedelta(0):
            raise InvalidTaskName(f"schedule {self.name!r}: every must be positive")
        if self.crontab is not None:
            fields = self.crontab.split()
            if len(fields) != 5:
                raise InvalidTaskName(
                    f"schedule {self.name!r}: crontab must have five fields "
                    f"(minute hour day month weekday); got {self.crontab!r}"
                )
            for spec, (field_name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
                problem = _cron_field_problem(spec, low, high, names)
                if problem:
                    raise InvalidTaskName(
                        f"schedule {self.name!r}: crontab {self.crontab!r} has a bad "
                        f"{field_name} field {spec!r}: {problem}; use *, */n, a, a-b, a-b/n "
                        f"or a comma list of those, with values {low}-{high}"
                        + (f" or {names[0]}-{names[-1]}" if names else "")
                    )
        self.task.check_arguments(self.kwargs)


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Field, lowest and highest value, names allowed: what celery's crontab accepts (Sunday is 0),
# checked here so a bad schedule fails where it is made, not when beat starts.
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("weekday", 0, 6, _WEEKDAYS),
)


def _cron_field_problem(spec: str, low: int, high: int, names: tuple[str, ...]) -> str:
    """What is wrong with one crontab field, or ``""``."""

    def value(text: str) -> str:
        if text.isdigit():
            number = int(text)
            return "" if low <= number <= high else f"{number} is out of range"
        if text.lower() in names:
            return ""
        return f"{text!r} is not a number" + (" or a name" if names else "")

    for part in spec.split(","):
        if not part:
            return "an empty item"
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) >= 1):
            return f"step {step!r} must be a whole number >= 1"
        if base == "*":
            continue
        bounds = base.split("-")
        if slash and len(bounds) != 2:
            return f"a step needs * or a range a-b before it (celery has no {part!r})"
        if len(bounds) > 2:
            return f"{base!r} is not a range a-b"
        for bound in bounds:
            problem = value(bound)
            if problem:
                return problem
    return ""


@dataclass(frozen=True)
class TaskMessage:
    """What crosses from the caller to the provider: JSON only (see :meth:`as_json`).

    :param id: 32 hex characters, unique per enqueue (the durable record's primary key).
    :param enqueued_at: Unix time the caller's transaction committed (for latency figures).
    """

    id: str
    name: str
    queue: str
    kwargs: Mapping[str, Any]
    enqueued_at: float
    durable: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "queue": self.queue,
            "kwargs": dict(self.kwargs),
            "enqueued_at": self.enqueued_at,
            "durable": self.durable,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskMessage:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            queue=str(data["queue"]),
            kwargs=dict(data.get("kwargs") or {}),
            enqueued_at=float(data.get("enqueued_at") or 0.0),
            durable=bool(data.get("durable")),
        )


@dataclass
class TaskResult:
    """What :meth:`Task.enqueue` returns, as django-tasks' ``TaskResult``.

    ``status`` is ``"ready"`` at enqueue; for durable tasks :meth:`refresh` reads the record.
    """

    id: str
    task_name: str
    queue: str
    kwargs: Mapping[str, Any]
    durable: bool
    status: TaskStatus = "ready"
    attempts: int = 0
    enqueued_at: datetime | None = None
    finished_at: datetime | None = None
    error: str = ""

    def refresh(self) -> TaskResult:
        """Reload status, attempts and error from the durable record (durable tasks only).

        :raises TaskResultNotFound: not durable, or the record is gone.
        """
        from .selectors import task_result

        fresh = task_result(self.id)
        self.status, self.attempts = fresh.status, fresh.attempts
        self.finished_at, self.error = fresh.finished_at, fresh.error
        return self
