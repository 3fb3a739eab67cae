"""Periodic blob maintenance as tasks: ``blobs.expire`` and ``blobs.reap`` (plugin ``blobs-tasks``).

A plugin of its own (entry point ``blobs-tasks``) so trellis-blobs needs nothing from
trellis-tasks: its hook implementations are ``optionalhook``, so without trellis-tasks
installed this plugin loads, contributes nothing and shows no problem in ``trellis check``;
``trellis.tasks`` is imported only when the hooks are called, which needs it installed. The
task bodies call the same service functions as ``manage.py blobs_expire`` / ``blobs_reap``.
Deny the plugin (``TRELLIS_PLUGINS_DENY=blobs-tasks``) to keep running those from cron.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from trellis.core import hookimpl

if TYPE_CHECKING:
    from trellis.tasks import Schedule, Task

TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}

EXPIRE_EVERY = timedelta(minutes=15)
REAP_EVERY = timedelta(days=1)
REAP_GRACE_SECONDS = 3600
"""As ``blobs_reap``'s default ``--older-than``: longer than any upload plus its transaction."""

log = logging.getLogger("trellis.blobs")


def expire(batch_size: int | None = None) -> int:
    """Delete blobs whose expiry has passed (``manage.py blobs_expire``); return how many."""
    from .services import BATCH_SIZE, blobs_expire

    report = blobs_expire(batch_size=batch_size or BATCH_SIZE)
    log.info("blobs.expire deleted %d blob(s) in %d batch(es)", report.deleted, report.batches)
    return report.deleted


def reap(older_than: int = REAP_GRACE_SECONDS, dry_run: bool = False) -> int:
    """Delete orphaned content older than ``older_than`` s (``manage.py blobs_reap``)."""
    from .services import blobs_reap

    report = blobs_reap(older_than=timedelta(seconds=older_than), dry_run=dry_run)
    log.info("blobs.reap: %d orphan(s), %d deleted", report.orphans, report.deleted)
    return report.deleted


@functools.cache
def tasks() -> dict[str, Task]:
    """The two tasks, made once per process (a task is known by its function)."""
    from trellis.tasks import task

    return {
        "expire": task(name="blobs.expire", max_retries=2)(expire),
        "reap": task(name="blobs.reap", max_retries=2)(reap),
    }


@hookimpl(optionalhook=True)
def tasks_handlers() -> Sequence[Task]:
    return list(tasks().values())


@hookimpl(optionalhook=True)
def tasks_schedules() -> Sequence[Schedule]:
    from trellis.tasks import Schedule

    made: dict[str, Any] = tasks()
    return [
        Schedule("blobs.expire", made["expire"], every=EXPIRE_EVERY),
        Schedule("blobs.reap", made["reap"], every=REAP_EVERY),
    ]
