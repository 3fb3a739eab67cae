"""Errors of the events subsystem: each names what was wrong, the value seen and what to do."""

from __future__ import annotations

from collections.abc import Iterable

from trellis.core import TrellisError


class EventsError(TrellisError):
    """Base class of every error raised by trellis.events."""


class UnknownTopic(EventsError, LookupError):
    """:func:`trellis.events.publish` was given a topic no plugin declares."""

    def __init__(self, topic: str, known: Iterable[str]) -> None:
        self.topic = topic
        self.known = sorted(known)
        super().__init__(
            f"unknown event topic {topic!r}: declare it with a plugin's events_topics() hook; "
            f"declared topics: {', '.join(self.known) or 'none'}"
        )


class UnknownProcessor(EventsError, LookupError):
    """A command or selector was given a processor name no plugin contributes."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(
            f"unknown event processor {name!r}: processors come from plugins' "
            f"events_processors() hook; known processors: {', '.join(self.known) or 'none'}"
        )


class EventPayloadError(EventsError, ValueError):
    """A payload that is not plain JSON (names the path of the offending value)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"event payload at {path}: {message}")


class EventKeyError(EventsError, ValueError):
    """An ordering key that is not a non-empty string of allowed characters."""
