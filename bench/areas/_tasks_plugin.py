"""The benchmark's task plugin: ``bench.tick`` notes when it started, against when it was sent.

With ``BENCH_TASKS_REDIS_URL`` and ``BENCH_TASKS_RESULTS`` set (celery worker, raw consumer)
the note goes to that Redis list, so the producer process reads it; otherwise to
:data:`NOTES` in this process (eager).
"""

from __future__ import annotations

import functools
import json
import os
import time
from typing import Any

from trellis.core import hookimpl
from trellis.tasks import task

TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}

NOTES: list[tuple[float, float]] = []
"""``(start - sent_at, start)`` per run, when no Redis list is configured."""


@functools.cache
def _redis() -> Any:
    import redis

    return redis.Redis.from_url(
        os.environ["BENCH_TASKS_REDIS_URL"], socket_timeout=10, socket_connect_timeout=10
    )


def note(sent_at: float) -> None:
    started = time.time()
    results = os.environ.get("BENCH_TASKS_RESULTS")
    if results:
        _redis().rpush(results, json.dumps([started - sent_at, started]))
    else:
        NOTES.append((started - sent_at, started))


@task(name="bench.tick", max_retries=0)
def tick(sent_at: float, payload: dict[str, Any]) -> None:
    note(sent_at)


@hookimpl
def tasks_handlers() -> list[Any]:
    return [tick]
