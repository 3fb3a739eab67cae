"""Writing the outbox (:func:`publish`) and ordering it (:func:`sequence`)."""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone

from trellis.core import get_host

from . import _settings
from ._errors import UnknownTopic
from ._processing import locked_checkpoint
from ._registry import topics
from ._types import Event
from ._validate import encode_payload, validate_key

if TYPE_CHECKING:
    from .models import OutboxEvent

log = logging.getLogger("trellis.events")

SEQUENCER = "_sequencer"
"""The checkpoint row holding the last position given out (created by the first migration)."""


def partition_of(key: str, partitions: int) -> int:
    """The partition of ``key``: ``crc32(key) % partitions`` (stable across processes, unlike
    Python's salted ``hash()``)."""
    return zlib.crc32(key.encode()) % partitions


def publish(*, topic: str, key: str, payload: object) -> Event:
    """Write an event to the outbox in the caller's current transaction.

    The event exists if and only if that transaction commits (with no transaction open,
    Django's autocommit commits it at once). After the commit, the selected provider is told
    (``events_notify``): ``inline`` runs the processors there and then, ``redis-streams``
    leaves it to the relay of ``events_consume``. Nothing a processor does can make
    ``publish`` (or the commit) fail.

    :param topic: a topic declared by a plugin's ``events_topics()`` hook.
    :param key: the ordering key (events of one topic and key are handled in order).
    :param payload: plain JSON (dict, list, str, int, float, bool, None).
    :raises UnknownTopic: the topic is not declared (the message lists the declared ones).
    :raises EventKeyError: the key is not a valid ordering key.
    :raises EventPayloadError: the payload is not plain JSON (the message names the path).
    """

    from .models import OutboxEvent

    declared = topics()
    if topic not in declared:
        raise UnknownTopic(str(topic), declared)
    validate_key(key)
    text = encode_payload(payload)
    partition = partition_of(key, _settings.partitions())
    published_at = timezone.now()
    # One INSERT, without the ORM's per-instance work: this is on the publisher's hot path.
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in ("topic", "key", "partition", "payload", "published_at"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(OutboxEvent._meta.db_table)} ({columns}) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            [topic, key, partition, text, connection.ops.adapt_datetimefield_value(published_at)],
        )
        (event_id,) = cursor.fetchone()
    transaction.on_commit(partial(_notify, event_id))
    return Event(
        id=event_id,
        topic=topic,
        key=key,
        payload=json.loads(text),
        published_at=published_at,
        partition=partition,
    )


def _notify(event_id: int) -> None:
    try:
        get_host().call("events_notify", event_id=event_id)
    except Exception:
        # The publisher's transaction has committed; the event is safe in the outbox and
        # `events_consume` (or the next notification) picks it up.
        log.exception("events_notify failed after event %s committed", event_id)


def sequence(*, limit: int = 5000) -> int:
    """Give positions to committed outbox rows that have none, in id order, after the highest.

    Serialised by a row lock on the sequencer's checkpoint, so positions only grow in the
    order they become visible: a reader that saw position ``n`` has seen every position below
    it, which is what makes a checkpoint (a position) safe even though a transaction with a
    smaller id may commit after one with a larger id.

    :return: how many rows got a position.
    """

    from .models import OutboxEvent

    table = OutboxEvent._meta.db_table
    with transaction.atomic():
        row = locked_checkpoint(SEQUENCER, "outbox")
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET position = s.base + s.rn "  # noqa: S608 - no user input
                f"FROM (SELECT id, %s AS base, ROW_NUMBER() OVER (ORDER BY id) AS rn "
                f"FROM {table} WHERE position IS NULL ORDER BY id LIMIT %s) AS s "
                f"WHERE {table}.id = s.id",
                [row.position, limit],
            )
            count = cursor.rowcount
        if count:
            row.position += count
            row.save(update_fields=["position", "updated_at"])
    return int(count)


def to_events(rows: Iterable[OutboxEvent]) -> list[Event]:
    """Outbox rows as :class:`Event` values (payloads decoded)."""
    return [
        Event(
            id=r.id,
            topic=r.topic,
            key=r.key,
            payload=json.loads(r.payload),
            published_at=r.published_at,
            position=r.position,
            partition=r.partition,
        )
        for r in rows
    ]
