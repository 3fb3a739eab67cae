"""The value types of the events subsystem: topics, events and processors."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._errors import EventsError

TOPIC_PATTERN = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*", re.ASCII)
"""Topic names: dotted lower-case words, such as ``forms.submitted``."""

MAX_TOPIC_LENGTH = 100
PROCESSOR_PATTERN = re.compile(r"[a-z][a-z0-9_.-]*", re.ASCII)
MAX_PROCESSOR_LENGTH = 100


@dataclass(frozen=True)
class Topic:
    """A topic a plugin declares (hook ``events_topics``); only declared topics are published.

    :param name: dotted lower-case words (``[a-z][a-z0-9_]*`` joined by ``.``), at most 100
        characters, such as ``forms.submitted``.
    :param description: one line for the dashboard and error messages.
    """

    name: str
    description: str = ""

    def __post_init__(self) -> None:
        if (
            not isinstance(self.name, str)
            or len(self.name) > MAX_TOPIC_LENGTH
            or not TOPIC_PATTERN.fullmatch(self.name)
        ):
            raise EventsError(
                f"topic name {self.name!r} is invalid: use dotted lower-case words such as "
                f"'forms.submitted' (letters, digits, '_'; at most {MAX_TOPIC_LENGTH} characters)"
            )


@dataclass(frozen=True)
class Event:
    """One published event, as handlers see it.

    :param id: the outbox row's id (unique, assigned at publish time).
    :param topic: the declared topic it was published to.
    :param key: the ordering key: events of one topic and key are handled in publish order.
    :param payload: the JSON value published (dicts, lists, strings, numbers, booleans, None).
    :param published_at: when the publishing transaction wrote it.
    :param position: its place in the log, assigned once its transaction committed.
    :param partition: ``crc32(key) % TRELLIS_EVENTS_PARTITIONS`` at publish time.
    """

    id: int
    topic: str
    key: str
    payload: Any
    published_at: datetime
    position: int | None = None
    partition: int = 0


def default_backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...): 0.05 s doubling, at most 2 s."""
    return float(min(0.05 * 2 ** (attempt - 1), 2.0))


@dataclass(frozen=True)
class Processor:
    """A consumer of events that a plugin contributes (hook ``events_processors``).

    :param name: unique, lower-case (``[a-z][a-z0-9_.-]*``): keys its checkpoints, its consumer
        group and its dead letters, so renaming it starts it again from the beginning.
    :param topics: the declared topics it handles.
    :param handler: ``handler(events)`` handles a batch, in one database transaction with the
        checkpoint; raising rolls back both. Runs at least once per event: make it idempotent
        (:func:`trellis.events.once`).
    :param batch_size: at most this many events per call.
    :param max_attempts: a failing event is tried this many times, alone, then dead-lettered.
    :param retry_backoff: ``retry_backoff(attempt)`` seconds before retry ``attempt`` (1, 2...).
    """

    name: str
    topics: Sequence[str]
    handler: Callable[[Sequence[Event]], None]
    batch_size: int = 100
    max_attempts: int = 5
    retry_backoff: Callable[[int], float] = field(default=default_backoff)

    def __post_init__(self) -> None:
        if (
            not isinstance(self.name, str)
            or len(self.name) > MAX_PROCESSOR_LENGTH
            or not PROCESSOR_PATTERN.fullmatch(self.name)
        ):
            raise EventsError(
                f"processor name {self.name!r} is invalid: use lower-case letters, digits, "
                f"'_', '-' or '.', starting with a letter, at most {MAX_PROCESSOR_LENGTH} "
                "characters"
            )
        if isinstance(self.topics, str) or not self.topics:
            raise EventsError(
                f"processor {self.name!r}: topics must be a non-empty sequence of topic names, "
                f"got {self.topics!r}"
            )
        if not callable(self.handler):
            raise EventsError(f"processor {self.name!r}: handler {self.handler!r} is not callable")
        for label, value in (("batch_size", self.batch_size), ("max_attempts", self.max_attempts)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise EventsError(
                    f"processor {self.name!r}: {label} must be a positive integer, got {value!r}"
                )
