"""Batches, fall-back, retries with backoff, dead letters, replay, idempotency, commands."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from trellis.core import _global, set_host
from trellis.core.testing import isolated_host
from trellis.events import inline, once, plugin, publish
from trellis.events.models import Checkpoint, DeadLetter, ProcessedEvent

from ._plugin import ShopPlugin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop():  # type: ignore[no-untyped-def]
    shop = ShopPlugin()
    previous = _global._host
    set_host(isolated_host(plugin, inline, shop))
    yield shop
    set_host(previous)


def test_poison_event_is_retried_with_backoff_then_dead_lettered(shop) -> None:  # type: ignore[no-untyped-def]
    shop.fail = lambda event: event.payload.get("poison", False)
    with transaction.atomic():
        good = publish(topic="shop.order", key="a", payload={"n": 1})
        bad = publish(topic="shop.order", key="a", payload={"poison": True})
        later = publish(topic="shop.order", key="a", payload={"n": 3})
    assert [e.id for e in shop.seen] == [good.id, later.id], "events behind it went on"
    assert shop.calls[0] == [good.id, bad.id, later.id], "the whole batch first"
    assert shop.calls[1:] == [[good.id], [bad.id], [bad.id], [bad.id], [later.id]]
    assert shop.backoffs == [1, 2], "a wait before each retry, none after the last try"
    letter = DeadLetter.objects.get()
    assert (letter.processor, letter.event_id, letter.attempts) == ("shipping", bad.id, 3)
    assert "ValueError: cannot ship order {'poison': True}" in letter.error
    assert Checkpoint.objects.get(processor="shipping").position == 3
    assert letter.first_failed_at < letter.last_failed_at, "the first failure, not the last"


def test_publish_never_fails_because_of_a_handler(shop) -> None:  # type: ignore[no-untyped-def]
    shop.fail = lambda event: True
    event = publish(topic="shop.order", key="b", payload={})  # autocommit: handled at once
    assert DeadLetter.objects.get().event_id == event.id


def test_replay_command_removes_dead_letters_that_succeed(shop) -> None:  # type: ignore[no-untyped-def]
    shop.fail = lambda event: True
    first = publish(topic="shop.order", key="r", payload={"n": 1})
    publish(topic="shop.order", key="r", payload={"n": 2})
    assert DeadLetter.objects.count() == 2
    with pytest.raises(CommandError, match="2 dead letter"):
        call_command("events_replay", "--all", stdout=io.StringIO(), stderr=io.StringIO())
    assert set(DeadLetter.objects.values_list("attempts", flat=True)) == {4}
    shop.fail = lambda event: False
    pk = DeadLetter.objects.get(event_id=first.id).pk
    out = io.StringIO()
    call_command("events_replay", "--processor", "shipping", "--id", str(pk), stdout=out)
    assert "replayed 1" in out.getvalue()
    assert [e.id for e in shop.seen] == [first.id]
    call_command("events_replay", "--all", stdout=io.StringIO())
    assert not DeadLetter.objects.exists()


def test_commands_name_unknown_processors(shop) -> None:  # type: ignore[no-untyped-def]
    for command in (["events_consume", "--once"], ["events_replay", "--all"]):
        with pytest.raises(CommandError, match=r"unknown event processor 'nope'.*: shipping"):
            call_command(*command, "--processor", "nope")


def test_consume_once_catches_up_on_what_no_one_drained(shop) -> None:  # type: ignore[no-untyped-def]
    from trellis.events.models import OutboxEvent

    OutboxEvent.objects.create(topic="shop.order", key="c", payload='{"n":1}')
    out = io.StringIO()
    call_command("events_consume", "--once", stdout=out)
    assert "handled 1 event(s) with provider 'inline'" in out.getvalue()
    assert len(shop.seen) == 1


def test_once_marks_in_the_callers_transaction(shop) -> None:  # type: ignore[no-untyped-def]
    event = publish(topic="shop.order", key="o", payload={})
    with once("billing", event) as first:
        assert first
    with once("billing", event) as first:
        assert not first

    def fail_inside() -> None:
        with once("billing", event.id + 1000) as first:
            assert first
            raise RuntimeError("the effect failed")

    with pytest.raises(RuntimeError):
        fail_inside()
    assert not ProcessedEvent.objects.filter(event_id=event.id + 1000).exists()
    with once("other", event) as first:
        assert first, "marks are per processor"


def test_an_event_published_by_a_handler_is_handled_too(shop) -> None:  # type: ignore[no-untyped-def]
    original = shop.handle

    def handle(events):  # type: ignore[no-untyped-def]
        original(events)
        for event in events:
            if event.payload.get("n", 0) < 3:
                publish(topic="shop.order", key="chain", payload={"n": event.payload["n"] + 1})

    shop.handle = handle
    publish(topic="shop.order", key="chain", payload={"n": 0})
    assert [e.payload["n"] for e in shop.seen] == [0, 1, 2, 3]


def test_a_transaction_that_commits_late_is_not_skipped(shop) -> None:  # type: ignore[no-untyped-def]
    """Ids are taken at insert: a smaller id can commit after a larger one was handled."""
    from trellis.events.models import OutboxEvent

    late_id = OutboxEvent.objects.create(topic="shop.order", key="x", payload="{}").pk + 100
    first = OutboxEvent.objects.create(id=late_id, topic="shop.order", key="x", payload="{}")
    call_command("events_consume", "--once", stdout=io.StringIO())
    # The transaction holding a smaller id commits only now.
    straggler = OutboxEvent.objects.create(
        id=late_id - 50, topic="shop.order", key="x", payload="{}"
    )
    call_command("events_consume", "--once", stdout=io.StringIO())
    handled = [e.id for e in shop.seen]
    assert handled[-2:] == [first.pk, straggler.pk]
    first.refresh_from_db()
    assert OutboxEvent.objects.get(pk=straggler.pk).position > first.position


def test_switching_provider_does_not_hand_past_events_over_again(shop) -> None:  # type: ignore[no-untyped-def]
    from trellis.events._processing import checkpoint_position
    from trellis.events._settings import partitions

    with transaction.atomic():
        for n in range(4):
            publish(topic="shop.order", key=f"k{n}", payload={"n": n})
    assert len(shop.seen) == 4  # inline handled them: one checkpoint, partition "all"
    last = Checkpoint.objects.get(processor="shipping", partition="all").position
    assert last > 0
    # inline -> redis-streams: each partition starts where inline stopped, not at 0.
    for n in range(partitions()):
        assert checkpoint_position("shipping", f"shop.order:{n}") == last
    # redis-streams -> inline: inline starts past what the partition checkpoints cover.
    Checkpoint.objects.filter(processor="shipping").delete()
    for n in range(partitions()):
        Checkpoint.objects.create(processor="shipping", partition=f"shop.order:{n}", position=last)
    shop.seen.clear()
    publish(topic="shop.order", key="k9", payload={"n": 9})
    assert [e.payload["n"] for e in shop.seen] == [9]
