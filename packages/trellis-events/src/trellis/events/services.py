"""Writes beyond publishing: replaying dead letters."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from trellis.core import Host

from ._errors import EventsError
from ._processing import MAX_ERROR_LENGTH
from ._registry import processors as all_processors
from ._types import Event
from .models import DeadLetter

log = logging.getLogger("trellis.events")


@dataclass
class ReplayReport:
    """What :func:`dead_letters_replay` did: ids replayed, and failures by id with the error."""

    replayed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def dead_letters_replay(
    *,
    processor: str | None = None,
    ids: Sequence[int] | None = None,
    host: Host | None = None,
) -> ReplayReport:
    """Run dead letters through their processor's handler again, one at a time.

    Each replay is one transaction: the handler's work and the dead letter's removal commit
    together; a failure rolls back, counts an attempt and keeps the error. Checkpoints do not
    move (the processor got past the event when it was buried).

    :param processor: only this processor's dead letters.
    :param ids: only these dead letters (``DeadLetter`` ids); ``None`` for all that match.
    :raises EventsError: a dead letter belongs to a processor no plugin contributes any more.
    """
    known = all_processors(host)
    letters = DeadLetter.objects.order_by("processor", "position", "id")
    if processor:
        letters = letters.filter(processor=processor)
    if ids is not None:
        letters = letters.filter(pk__in=list(ids))
    report = ReplayReport()
    for letter in letters:
        if letter.processor not in known:
            raise EventsError(
                f"dead letter {letter.pk} belongs to processor {letter.processor!r}, which no "
                f"installed plugin contributes; known processors: {', '.join(sorted(known))}"
            )
        event = Event(
            id=letter.event_id,
            topic=letter.topic,
            key=letter.key,
            payload=json.loads(letter.payload),
            published_at=letter.published_at,
            position=letter.position,
        )
        try:
            with transaction.atomic():
                known[letter.processor].handler([event])
                DeadLetter.objects.filter(pk=letter.pk).delete()
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
            DeadLetter.objects.filter(pk=letter.pk).update(
                attempts=letter.attempts + 1, error=message, last_failed_at=timezone.now()
            )
            report.failed[letter.pk] = message
            log.warning("replay of dead letter %s failed: %s", letter.pk, message)
        else:
            report.replayed.append(letter.pk)
    return report
