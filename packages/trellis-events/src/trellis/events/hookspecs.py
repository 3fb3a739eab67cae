"""Hooks of the ``events`` contract: topics and processors from plugins, and the transport.

``events_topics`` and ``events_processors`` are *extension* hooks: every plugin may declare
topics and contribute processors. ``events_notify`` and ``events_consume`` are *provider*
hooks (``firstresult``): only the provider selected with ``TRELLIS_EVENTS_PROVIDER`` (default
``inline``) answers. The outbox, checkpoints and dead letters are the facade's; a provider
decides how committed outbox rows reach the processors (in-process, or through Redis Streams)
and calls :func:`trellis.events.handle` to run them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from trellis.core import Contract, hookspec

from ._types import Processor, Topic

CONTRACT = Contract(
    "events", "1.0.0", default_provider="inline", description="Transactional outbox and processors"
)


@hookspec
def events_topics() -> Sequence[Topic]:
    """Topics this plugin publishes to; :func:`trellis.events.publish` refuses any other.

    Extension hook: every plugin is asked; the first declaration of a name wins.

    :return: :class:`~trellis.events.Topic` objects (name and description).
    """


@hookspec
def events_processors() -> Sequence[Processor]:
    """Processors this plugin contributes: a name, topics, a batch size and a handler.

    Extension hook: every plugin is asked. Names must be unique across plugins and topics
    declared (``events_topics``), or selecting processors fails naming the plugin.

    :return: :class:`~trellis.events.Processor` objects.
    """


@hookspec(firstresult=True)
def events_notify(event_id: int) -> bool:
    """An event was committed to the outbox (called from ``transaction.on_commit``).

    Provider hook. ``inline`` runs the processors over new events there and then; a provider
    with a separate relay may do nothing. It must never raise into the publisher (the facade
    logs what it raises anyway).

    :param event_id: the committed outbox row's id.
    :return: ``True`` if it handled events now, ``False`` if it left them for a consumer.
    """


@hookspec(firstresult=True)
def events_consume(processors: Sequence[Processor], stop: threading.Event, once: bool) -> int:
    """Move committed outbox events to ``processors`` until ``stop`` is set.

    Provider hook, run by ``manage.py events_consume``. Must hand each committed event to each
    processor of its topic at least once, in position order per topic and key, through
    :func:`trellis.events.handle` (which keeps checkpoints and dead letters).

    :param processors: the processors to run (already validated).
    :param stop: set by SIGTERM/SIGINT; return soon after (finish or abandon the current batch).
    :param once: return as soon as every event committed before the call is handled.
    :return: the number of events handled.
    """
