"""One test per hook of the ``events`` contract, through a real host."""

from __future__ import annotations

import threading

import pytest
from django.db import transaction

from trellis.core.testing import isolated_host
from trellis.events import Processor, Topic, hookspecs, inline, plugin, publish, select

from ._plugin import ShopPlugin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop() -> ShopPlugin:
    return ShopPlugin()


@pytest.fixture
def host(shop, monkeypatch):  # type: ignore[no-untyped-def]
    from trellis.core import _global, set_host

    built = isolated_host(plugin, inline, shop)
    previous = _global._host
    set_host(built)
    yield built
    set_host(previous)


def test_contract_and_hook_kinds(host) -> None:  # type: ignore[no-untyped-def]
    assert hookspecs.CONTRACT.name == "events"
    assert hookspecs.CONTRACT.default_provider == "inline"
    kinds = {h.name: h.kind for h in host.hooks() if h.contract == "events"}
    assert kinds == {
        "events_topics": "extension",
        "events_processors": "extension",
        "events_notify": "provider",
        "events_consume": "provider",
    }


def test_hook_events_topics(host) -> None:  # type: ignore[no-untyped-def]
    [topics] = host.collect("events_topics")
    assert topics == [Topic("shop.order", "An order was placed")]


def test_hook_events_processors(host) -> None:  # type: ignore[no-untyped-def]
    [processors] = host.collect("events_processors")
    assert [(p.name, list(p.topics), p.batch_size) for p in processors] == [
        ("shipping", ["shop.order"], 10)
    ]
    assert all(isinstance(p, Processor) for p in processors)


def test_hook_events_notify(host, shop) -> None:  # type: ignore[no-untyped-def]
    from trellis.events.models import OutboxEvent

    # Written without publish(): nothing was notified, so nothing was handled yet.
    row = OutboxEvent.objects.create(topic="shop.order", key="o1", payload='{"n":1}')
    assert shop.seen == []
    assert host.call("events_notify", event_id=row.id) is True
    assert [e.id for e in shop.seen] == [row.id]
    assert host.call("events_notify", event_id=row.id) is False  # already covered


def test_hook_events_consume(host, shop) -> None:  # type: ignore[no-untyped-def]
    from trellis.events.models import OutboxEvent

    rows = [OutboxEvent.objects.create(topic="shop.order", key="o", payload="{}") for _ in range(3)]
    handled = host.call(
        "events_consume", processors=select(None, host), stop=threading.Event(), once=True
    )
    assert handled == 3
    assert [e.id for e in shop.seen] == [r.id for r in rows]
    with transaction.atomic():
        publish(topic="shop.order", key="o", payload={})
    assert len(shop.seen) == 4
