"""The fault test's task: slow, durable, idempotent; runs and effects are counted apart."""

from __future__ import annotations

import time
import uuid

from django.db import transaction

from trellis.core import hookimpl
from trellis.tasks import claim, task

TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}


@task(name="fault.effect", durable=True, max_retries=0)
def effect(key: str, seconds: float) -> None:
    claim(f"run:{key}:{uuid.uuid4().hex}")  # committed at once: counts every run, even killed
    with transaction.atomic():
        if not claim(f"effect:{key}"):
            return  # applied by an earlier run
        time.sleep(seconds)  # a SIGKILL here rolls the effect back with the whole run


@hookimpl
def tasks_handlers():
    return [effect]
