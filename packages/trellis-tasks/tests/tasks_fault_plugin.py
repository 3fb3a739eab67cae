"""The fault tests' tasks: ``effect`` is slow, durable, idempotent (runs and effects counted
apart); ``crash`` kills the pool process running it, every time."""

from __future__ import annotations

import os
import signal
import time
import uuid

from django.db import transaction

from trellis.core import hookimpl
from trellis.tasks import claim, task

TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}


# A worker killed mid-run counts as an attempt: two allow the one redelivery the test causes.
@task(name="fault.effect", durable=True, max_retries=1)
def effect(key: str, seconds: float) -> None:
    claim(f"run:{key}:{uuid.uuid4().hex}")  # committed at once: counts every run, even killed
    with transaction.atomic():
        if not claim(f"effect:{key}"):
            return  # applied by an earlier run
        time.sleep(seconds)  # a SIGKILL here rolls the effect back with the whole run


# Queue "contract": the session's worker runs it, no worker of its own to start.
@task(name="fault.crash", queue="contract", durable=True, max_retries=0)
def crash() -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # like the OOM killer taking the pool process


@hookimpl
def tasks_handlers():
    return [effect, crash]
