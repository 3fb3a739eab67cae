"""Reads: where each processor stands (checkpoints, lag, dead letters)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from trellis.core import Host

from .models import Checkpoint, DeadLetter, OutboxEvent


@dataclass(frozen=True)
class ProcessorStatus:
    """One processor's state.

    :param checkpoints: partition → last position handled (``all`` for ``inline``,
        ``<topic>:<n>`` for ``redis-streams``).
    :param lag: committed events of its topics it has not handled yet.
    :param dead_letters: its dead letters waiting for a replay.
    """

    name: str
    topics: tuple[str, ...]
    checkpoints: dict[str, int]
    lag: int
    dead_letters: int


def _lag(topics: tuple[str, ...], checkpoints: dict[str, int]) -> int:
    """Events of ``topics`` past the checkpoints (not yet sequenced ones included).

    ``all`` counts for every partition; ``<topic>:<n>`` for one; an event is handled if
    either says so (both exist after the provider was switched); a partition without a
    checkpoint lags by all its events.
    """
    done = Q(position__lte=checkpoints["all"]) if "all" in checkpoints else Q(pk__in=[])
    for name, position in checkpoints.items():
        topic, _, number = name.rpartition(":")
        if topic in topics and number.isdigit():
            done |= Q(topic=topic, partition=int(number), position__lte=position)
    return OutboxEvent.objects.filter(topic__in=topics).exclude(done).count()


def processor_status(name: str | None = None, *, host: Host | None = None) -> list[ProcessorStatus]:
    """The status of every processor (or of the one named), sorted by name.

    :raises UnknownProcessor: ``name`` is not a known processor.
    """
    from ._registry import select

    chosen = select([name] if name else None, host)
    result = []
    for processor in chosen:
        checkpoints = dict(
            Checkpoint.objects.filter(processor=processor.name).values_list("partition", "position")
        )
        topics = tuple(processor.topics)
        result.append(
            ProcessorStatus(
                name=processor.name,
                topics=topics,
                checkpoints=checkpoints,
                lag=_lag(topics, checkpoints),
                dead_letters=DeadLetter.objects.filter(processor=processor.name).count(),
            )
        )
    return result
