"""trellis-events: publish events in your transaction; processors from plugins handle them.

    from trellis import events

    with transaction.atomic():
        order = Order.objects.create(...)
        events.publish(topic="orders.placed", key=f"order-{order.pk}", payload={"total": 42})

The event is written to an outbox table in the caller's transaction, so it exists if and only
if that transaction commits. Processors (hook ``events_processors``) then handle it at least
once, in order per topic and key, through the selected provider: ``inline`` (default, in the
publishing process after commit) or ``redis-streams`` (a relay and consumer processes,
``manage.py events_consume``). Callers write the same code whichever runs underneath.
"""

from __future__ import annotations

from ._errors import EventKeyError, EventPayloadError, EventsError, UnknownProcessor, UnknownTopic
from ._outbox import partition_of, publish, sequence
from ._processing import Outcome, Stopped, handle, once
from ._registry import processors, select, topics
from ._types import Event, Processor, Topic, default_backoff
from ._validate import encode_payload, validate_key
from ._version import __version__
from .consuming import consume

__all__ = [
    "Event",
    "EventKeyError",
    "EventPayloadError",
    "EventsError",
    "Outcome",
    "Processor",
    "Stopped",
    "Topic",
    "UnknownProcessor",
    "UnknownTopic",
    "__version__",
    "consume",
    "default_backoff",
    "encode_payload",
    "handle",
    "once",
    "partition_of",
    "processors",
    "publish",
    "select",
    "sequence",
    "topics",
    "validate_key",
]
