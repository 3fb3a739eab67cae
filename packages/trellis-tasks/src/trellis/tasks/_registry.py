"""Which tasks and schedules the installed plugins contribute, looked up by name."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping

from trellis.core import Host, get_host

from ._errors import TaskError, UnknownTask
from ._names import validate_task_name
from ._types import Schedule, Task

_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary[Host, tuple[tuple[str, ...], dict[str, Task]]] = (
    weakref.WeakKeyDictionary()
)


def _active(host: Host) -> tuple[str, ...]:
    return tuple(r.name for r in host.plugins() if r.status == "active")


def all_tasks(host: Host | None = None) -> Mapping[str, Task]:
    """Every contributed task by name: ``tasks_handlers`` plus the tasks of ``tasks_schedules``.

    Cached per host until its set of active plugins changes.

    :raises TaskError: two plugins contribute different tasks under one name, or a plugin
        returns something that is not a :class:`Task`.
    """
    host = host or get_host()
    active = _active(host)
    cached = _cache.get(host)
    if cached is not None and cached[0] == active:
        return cached[1]
    found: dict[str, tuple[str, Task]] = {}

    def add(plugin: str, item: object) -> None:
        if not isinstance(item, Task):
            raise TaskError(
                f"plugin {plugin!r} contributed {item!r} from tasks_handlers; return Task "
                "objects made with @trellis.tasks.task"
            )
        seen = found.get(item.name)
        if seen is not None and seen[1].func is not item.func:
            raise TaskError(
                f"plugins {seen[0]!r} and {plugin!r} both contribute a task named "
                f"{item.name!r}; rename one of them"
            )
        found[item.name] = (plugin, item)

    for plugin, tasks in host.collect_by_plugin("tasks_handlers"):
        for item in tasks or ():
            add(plugin, item)
    for plugin, schedule in all_schedules(host):
        add(plugin, schedule.task)
    result = {name: item for name, (_, item) in found.items()}
    with _lock:
        _cache[host] = (active, result)
    return result


def all_schedules(host: Host | None = None) -> list[tuple[str, Schedule]]:
    """``(plugin, Schedule)`` for every contributed schedule, names checked to be unique."""
    host = host or get_host()
    schedules: list[tuple[str, Schedule]] = []
    names: dict[str, str] = {}
    for plugin, items in host.collect_by_plugin("tasks_schedules"):
        for item in items or ():
            if not isinstance(item, Schedule):
                raise TaskError(
                    f"plugin {plugin!r} contributed {item!r} from tasks_schedules; return "
                    "trellis.tasks.Schedule objects"
                )
            if item.name in names:
                raise TaskError(
                    f"plugins {names[item.name]!r} and {plugin!r} both contribute a schedule "
                    f"named {item.name!r}"
                )
            names[item.name] = plugin
            schedules.append((plugin, item))
    return schedules


def find_task(name: str, host: Host | None = None) -> Task:
    """The contributed task called ``name``.

    :raises InvalidTaskName: ``name`` is malformed.
    :raises UnknownTask: no plugin contributes it (the message lists close names).
    """
    validate_task_name(name)
    tasks = all_tasks(host)
    try:
        return tasks[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, list(tasks), n=3)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise UnknownTask(
            f"no installed plugin contributes a task named {name!r}{hint}; known tasks: "
            f"{', '.join(sorted(tasks)) or 'none'}. Return it from a plugin's "
            "tasks_handlers() hook (and install or allow that plugin)"
        ) from None


def queues(host: Host | None = None) -> list[str]:
    """Every queue a contributed task uses, sorted."""
    return sorted({t.queue for t in all_tasks(host).values()})
