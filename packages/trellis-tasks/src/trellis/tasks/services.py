"""Writes of the tasks subsystem: idempotency claims and re-enqueueing lost durable tasks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from trellis.core import get_host

from ._types import TaskMessage

log = logging.getLogger("trellis.tasks")


def claim(key: str) -> bool:
    """Claim ``key`` once and for all, in the current transaction: the idempotency helper.

    A handler that may run twice (a redelivery after a worker died, a requeue) applies its
    effect inside ``transaction.atomic()`` only when ``claim`` returns ``True``: the key row
    and the effect commit together, so a second run finds the key and does nothing, and a
    run that fails leaves no key behind. Keys are at most 200 characters.

    :return: ``True`` the first time ``key`` is claimed, ``False`` once it has been.
    """
    from .models import IdempotencyKey

    if len(key) > 200:
        raise ValueError(f"idempotency key is {len(key)} characters; at most 200 fit")
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(key=key)
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class RequeueReport:
    """What :func:`tasks_requeue` did."""

    requeued: int
    failed_to_send: int


def tasks_requeue(
    *, older_than: timedelta, now: datetime | None = None, dry_run: bool = False
) -> RequeueReport:
    """Send again every durable task not finished and not touched for ``older_than``.

    A message lost by the broker (restarted without persistence) or by a provider that
    could not send it leaves a record in ``ready`` (or ``running``, if the worker died and no
    redelivery came): each such record is sent again with the same id, and its
    ``updated_at`` moves to now so the next run waits ``older_than`` again. A task still
    running for longer than ``older_than`` is sent twice: choose a threshold above the
    longest task, and write handlers idempotent (:func:`claim`).
    """
    from .models import TaskRecord

    cutoff = (now or timezone.now()) - older_than
    stale = TaskRecord.objects.filter(state__in=["ready", "running"], updated_at__lt=cutoff)
    host = get_host()
    requeued = failed = 0
    for record in stale.order_by("enqueued_at").iterator():
        if dry_run:
            requeued += 1
            continue
        touched = TaskRecord.objects.filter(pk=record.pk, updated_at=record.updated_at).update(
            updated_at=timezone.now()
        )
        if not touched:
            continue  # picked up (or requeued by another run) meanwhile
        message = TaskMessage(
            id=record.id,
            name=record.name,
            queue=record.queue,
            kwargs=record.kwargs,
            enqueued_at=timezone.now().timestamp(),
            durable=True,
        )
        try:
            host.call("tasks_enqueue", message=message)
        except Exception:
            failed += 1
            log.exception("could not requeue task %s (%s)", record.name, record.id)
            continue
        requeued += 1
    return RequeueReport(requeued=requeued, failed_to_send=failed)
