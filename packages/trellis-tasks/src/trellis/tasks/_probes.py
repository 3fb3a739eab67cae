"""Probe tasks of the contract suite (queue ``contract``): each leaves claimed keys behind.

Register this module as a plugin in every process of the provider under test (the suite's
host, and the worker's ``compose(globals(), plugins=[...])``).
"""

from __future__ import annotations

from collections.abc import Sequence

from trellis.core import hookimpl

from ._types import Task, task
from .services import claim

TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}


@task(name="contract.record")
def record(key: str, payload: dict[str, object] | None = None) -> None:
    """Claim ``key`` (and ``key#payload=<sorted JSON>`` when given)."""
    import json

    claim(key)
    if payload is not None:
        claim(f"{key}#payload={json.dumps(payload, sort_keys=True)}")


@task(name="contract.flaky", max_retries=3, retry_backoff=0.1)
def flaky(key: str, failures: int) -> None:
    """Fail the first ``failures`` attempts (counted in claimed keys), then claim ``key``."""
    from .models import IdempotencyKey

    attempt = IdempotencyKey.objects.filter(key__startswith=f"{key}#attempt").count()
    claim(f"{key}#attempt{attempt}")
    if attempt < failures:
        raise RuntimeError(f"probe failure {attempt + 1} of {failures}")
    claim(key)


@task(name="contract.durable", durable=True, max_retries=1, retry_backoff=0.1)
def durable(key: str, fail: bool = False) -> None:
    """A durable probe: claims ``key``, or always fails when ``fail``."""
    if fail:
        raise ValueError(f"probe {key} fails on purpose")
    claim(key)


TASKS: list[Task] = [record, flaky, durable]


@hookimpl
def tasks_handlers() -> Sequence[Task]:
    return TASKS
