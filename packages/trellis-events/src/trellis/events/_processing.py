"""Running a processor over events: batches, fall-back to one by one, retries, dead letters.

Shared by every provider. A batch is handled in one transaction that also advances the
processor's checkpoint for the partition, under a row lock on that checkpoint: the work and
the checkpoint commit together, and two consumers handed the same events (a redelivery, a lost
lease) cannot both apply them — the second sees the advanced checkpoint and skips them.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from ._types import Event, Processor

if TYPE_CHECKING:
    from .models import Checkpoint

log = logging.getLogger("trellis.events")

MAX_ERROR_LENGTH = 8000


@dataclass
class Outcome:
    """What one :func:`handle` call did."""

    handled: int = 0
    skipped: int = 0
    dead: int = 0
    last_position: int = 0


ALL = "all"
"""The partition of the ``inline`` provider's checkpoints: one per processor, over every topic.
``redis-streams`` keeps one per ``<topic>:<n>``."""


def locked_checkpoint(processor: str, partition: str) -> Checkpoint:
    """The checkpoint row of ``(processor, partition)``, created if new, locked ``FOR UPDATE``
    until the current transaction ends. Must run inside ``transaction.atomic``.

    A row behind what the other provider's checkpoints prove handled (the provider was
    switched) is moved up to it first (:func:`proven_position`).
    """

    from .models import Checkpoint

    query = Checkpoint.objects.select_for_update()
    try:
        row = query.get(processor=processor, partition=partition)
    except Checkpoint.DoesNotExist:
        try:
            with transaction.atomic():
                Checkpoint.objects.create(processor=processor, partition=partition, position=0)
        except IntegrityError:  # another consumer created it first
            pass
        row = query.get(processor=processor, partition=partition)
    proven = proven_position(processor, partition)
    if proven > row.position:
        row.position = proven
        row.save(update_fields=["position", "updated_at"])
    return row


def checkpoint_position(processor: str, partition: str) -> int:
    """The committed checkpoint of ``(processor, partition)``; 0 when there is none (or what the
    other provider's checkpoints prove handled, when that is further)."""

    from .models import Checkpoint

    row = Checkpoint.objects.filter(processor=processor, partition=partition).first()
    return max(row.position if row else 0, proven_position(processor, partition))


def proven_position(processor: str, partition: str) -> int:
    """How far the *other* provider's checkpoints of ``processor`` prove ``partition`` handled.

    Switching ``TRELLIS_EVENTS_PROVIDER`` must not hand every past event over again: an
    ``inline`` checkpoint (partition ``all``) covers each ``<topic>:<n>`` up to its position,
    and ``<topic>:<n>`` checkpoints cover ``all`` up to the lowest position one of them has
    not reached (see :func:`handled_through`).
    """

    from .models import Checkpoint

    rows = Checkpoint.objects.filter(processor=processor)
    if partition != ALL:
        found = rows.filter(partition=ALL).values_list("position", flat=True).first()
        return int(found or 0)
    done = dict(rows.exclude(partition=ALL).values_list("partition", "position"))
    if not done:
        return 0
    from ._registry import processors

    known = processors().get(processor)
    return (handled_through(known, done) or 0) if known is not None else 0


def handled_through(processor: Processor, done: dict[str, int]) -> int | None:
    """The highest position ``p`` such that every event of ``processor``'s topics at or
    before ``p`` is handled, given ``done``: ``<topic>:<n>`` → checkpoint. A partition with
    no checkpoint counts from just before its first event (or not at all, with none);
    ``None`` when no partition has any event."""

    from django.db.models import Min

    from . import _settings
    from .models import OutboxEvent

    lowest: int | None = None
    for topic in processor.topics:
        for n in range(_settings.partitions()):
            position = done.get(f"{topic}:{n}")
            if position is None:
                first = OutboxEvent.objects.filter(
                    topic=topic, partition=n, position__isnull=False
                ).aggregate(first=Min("position"))["first"]
                if first is None:
                    continue
                position = first - 1
            lowest = position if lowest is None else min(lowest, position)
    return lowest


def _position(event: Event) -> int:
    if event.position is None:
        raise ValueError(f"event {event.id} has no position yet; only sequenced events are handled")
    return event.position


def _apply(processor: Processor, partition: str, events: Sequence[Event]) -> int:
    """Handle ``events`` (those past the checkpoint) and advance the checkpoint, atomically."""
    with transaction.atomic():
        checkpoint = locked_checkpoint(processor.name, partition)
        fresh = [e for e in events if _position(e) > checkpoint.position]
        if fresh:
            processor.handler(fresh)
        last = _position(events[-1])
        if last > checkpoint.position:
            checkpoint.position = last
            checkpoint.save(update_fields=["position", "updated_at"])
        return len(fresh)


def _describe(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc))
    return text if len(text) <= MAX_ERROR_LENGTH else "...\n" + text[-MAX_ERROR_LENGTH:]


def _bury(
    processor: Processor,
    partition: str,
    event: Event,
    error: str,
    attempts: int,
    first_failed_at: datetime,
) -> None:
    """Record ``event`` as a dead letter of ``processor`` and move the checkpoint past it."""

    from .models import DeadLetter

    with transaction.atomic():
        checkpoint = locked_checkpoint(processor.name, partition)
        if _position(event) <= checkpoint.position:
            return  # another consumer got past it meanwhile
        now = timezone.now()
        DeadLetter.objects.update_or_create(
            processor=processor.name,
            event_id=event.id,
            defaults={
                "topic": event.topic,
                "key": event.key,
                "payload": _payload_text(event),
                "published_at": event.published_at,
                "position": event.position,
                "error": error,
                "attempts": attempts,
                "last_failed_at": now,
            },
            create_defaults={
                "topic": event.topic,
                "key": event.key,
                "payload": _payload_text(event),
                "published_at": event.published_at,
                "position": event.position,
                "error": error,
                "attempts": attempts,
                "first_failed_at": first_failed_at,
                "last_failed_at": now,
            },
        )
        checkpoint.position = _position(event)
        checkpoint.save(update_fields=["position", "updated_at"])


def _payload_text(event: Event) -> str:
    import json

    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False)


def handle(
    processor: Processor,
    partition: str,
    events: Sequence[Event],
    *,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = lambda: False,
) -> Outcome:
    """Run ``processor`` over ``events`` (sequenced, in position order) of ``partition``.

    The whole batch first; if the handler raises, each event alone, retried after
    ``processor.retry_backoff(attempt)`` seconds, up to ``processor.max_attempts`` tries; an
    event that still fails becomes a :class:`~trellis.events.models.DeadLetter` and the
    checkpoint moves past it, so the events behind it go on. Events at or before the
    checkpoint (already handled) are skipped. Handler errors never escape.
    """
    outcome = Outcome()
    if not events:
        return outcome
    outcome.last_position = _position(events[-1])
    try:
        outcome.handled = _apply(processor, partition, events)
        outcome.skipped = len(events) - outcome.handled
        return outcome
    except Exception as exc:
        if len(events) > 1:
            log.warning(
                "processor %r: batch of %d events failed (%s: %s); handling them one by one",
                processor.name,
                len(events),
                type(exc).__name__,
                exc,
            )
        first_error: BaseException | None = exc if len(events) == 1 else None
    for event in events:
        error = first_error
        first_error = None
        attempt = 1 if error is not None else 0
        failed_at = timezone.now() if error is not None else None
        while True:
            if error is None:
                try:
                    done = _apply(processor, partition, [event])
                except Exception as exc:
                    error = exc
                    attempt += 1
                    failed_at = failed_at or timezone.now()
                else:
                    outcome.handled += done
                    outcome.skipped += 1 - done
                    break
            if attempt >= processor.max_attempts:
                log.error(
                    "processor %r: event %s (%s, key %r) failed %d times; dead-lettered: %s",
                    processor.name,
                    event.id,
                    event.topic,
                    event.key,
                    attempt,
                    error,
                )
                _bury(
                    processor,
                    partition,
                    event,
                    _describe(error),
                    attempt,
                    failed_at or timezone.now(),
                )
                outcome.dead += 1
                break
            if should_stop():
                raise Stopped()
            sleep(processor.retry_backoff(attempt))
            error = None
    return outcome


class Stopped(Exception):
    """Raised inside :func:`handle` when the consumer is asked to stop between retries; the
    event is neither handled nor dead-lettered, and is delivered again later."""


@contextmanager
def once(processor: str | Processor, event: Event | int) -> Iterator[bool]:
    """Whether this is the first time ``processor`` applies ``event``; mark it if so.

    Use it inside a handler (the handler's transaction) so the effect and the mark commit
    together::

        with events.once("billing", event) as first:
            if first:
                Invoice.objects.create(...)

    If the block raises, the mark is rolled back with the effect. Delivery is at least once,
    so a handler with effects outside its own transaction needs this (or its own key).
    """
    from .models import ProcessedEvent

    name = processor.name if isinstance(processor, Processor) else processor
    event_id = event.id if isinstance(event, Event) else event
    with transaction.atomic():
        try:
            with transaction.atomic():
                ProcessedEvent.objects.create(processor=name, event_id=event_id)
        except IntegrityError:
            first = False
        else:
            first = True
        yield first
