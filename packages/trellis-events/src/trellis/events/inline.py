"""Provider ``inline`` of the ``events`` contract (entry point ``events-inline``): the default.

The outbox table is the log. After a publishing transaction commits, the outbox is sequenced
and every processor runs, in the publishing thread, from its checkpoint (one checkpoint per
processor, partition ``all``) over the new events of its topics, in position order. A handler
that fails is retried and dead-lettered as :func:`trellis.events.handle` says; nothing it
raises reaches the publisher. Events committed while nothing drained (a crash right after
commit) are handled by the next publish, or by ``manage.py events_consume --once``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from trellis.core import hookimpl

from ._outbox import sequence, to_events
from ._processing import ALL, checkpoint_position, handle
from ._registry import processors as all_processors
from ._types import Processor

TRELLIS_IMPLEMENTS = {"events": ">=1.0,<2"}
TRELLIS_PROVIDES = {"events": "inline"}
PROVIDER = "inline"
PARTITION = ALL

log = logging.getLogger("trellis.events")
_local = threading.local()


def drain(processors: Sequence[Processor], stop: threading.Event | None = None) -> int:
    """Sequence the outbox and run ``processors`` until none has anything new; the count."""

    from .models import OutboxEvent

    total = 0
    limit = 5000
    while stop is None or not stop.is_set():
        more = sequence(limit=limit) == limit
        for processor in processors:
            after = checkpoint_position(processor.name, PARTITION)
            rows = OutboxEvent.objects.filter(
                topic__in=list(processor.topics), position__gt=after
            ).order_by("position")[: processor.batch_size]
            events = to_events(rows)
            if events:
                total += handle(processor, PARTITION, events).handled
            # A full batch may hide more behind it; a short one means caught up.
            more = more or len(events) == processor.batch_size
        if not more:
            break
    return total


@hookimpl
def events_notify(event_id: int) -> bool:
    from .models import OutboxEvent

    covered = getattr(_local, "covered", 0)
    if event_id <= covered:
        return False  # a drain after this event's commit has already run
    if getattr(_local, "draining", False):
        _local.again = True  # a handler published: the running drain goes round again
        return False
    _local.draining = True
    try:
        while True:
            _local.again = False
            last = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
            drain(list(all_processors().values()))
            _local.covered = max(covered, last)
            if not _local.again:
                return True
    except Exception:
        log.exception("inline events drain failed; events_consume --once will resume it")
        return False
    finally:
        _local.draining = False


@hookimpl
def events_consume(processors: Sequence[Processor], stop: threading.Event, once: bool) -> int:
    total = 0
    while not stop.is_set():
        total += drain(processors, stop)
        if once:
            break
        stop.wait(0.5)
    return total
