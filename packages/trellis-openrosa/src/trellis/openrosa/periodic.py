"""Periodic removal of abandoned split submissions as a task (plugin ``openrosa-tasks``).

A plugin of its own (entry point ``openrosa-tasks``) so trellis-openrosa needs nothing from
trellis-tasks: its hooks are ``optionalhook``; ``trellis.tasks`` is imported only when they
are called. The task calls the same function as ``manage.py openrosa_pending_expire``. Deny
the plugin (``TRELLIS_PLUGINS_DENY=openrosa-tasks``) to run that command from cron instead.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from trellis.core import hookimpl

if TYPE_CHECKING:
    from trellis.tasks import Schedule, Task

TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}

EVERY = timedelta(days=1)

log = logging.getLogger("trellis.openrosa")


def expire_pending(older_than_hours: float | None = None) -> int:
    """Remove split submissions waiting longer than the default (or ``older_than_hours``)."""
    from .services import PENDING_DAYS, pending_expire

    hours = older_than_hours if older_than_hours is not None else PENDING_DAYS * 24
    removed = pending_expire(older_than=timedelta(hours=hours))
    log.info("openrosa.expire_pending removed %d waiting submission(s)", removed)
    return removed


@functools.cache
def task() -> Task:
    """The task, made once per process (a task is known by its function)."""
    from trellis.tasks import task as make

    return make(name="openrosa.expire_pending", max_retries=2)(expire_pending)


@hookimpl(optionalhook=True)
def tasks_handlers() -> Sequence[Task]:
    return [task()]


@hookimpl(optionalhook=True)
def tasks_schedules() -> Sequence[Schedule]:
    from trellis.tasks import Schedule

    return [Schedule("openrosa.expire_pending", task(), every=EVERY)]
