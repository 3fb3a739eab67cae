"""The redis-streams provider: the contract suite, re-relays, leases and reclaimed entries."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

import pytest
from django.db import transaction

from trellis.core import Host
from trellis.events import publish, redis_streams, select
from trellis.events.testing import EventsContract

from .conftest import REDIS_URL, redis_client


class TestRedisStreamsProvider(EventsContract):
    provider = "redis-streams"
    plugins = [redis_streams]

    @pytest.fixture(autouse=True)
    def _prefix(self, redis_prefix: str) -> None:
        self.prefix = redis_prefix

    def provider_settings(self, tmp_path: Path) -> Mapping[str, str]:
        return {
            "TRELLIS_EVENTS_REDIS_URL": REDIS_URL,
            "TRELLIS_EVENTS_REDIS_PREFIX": self.prefix,
            "TRELLIS_EVENTS_LEASE_SECONDS": "1",
            "TRELLIS_EVENTS_POLL_SECONDS": "0.01",
            "TRELLIS_EVENTS_PARTITIONS": "3",
        }

    def test_events_go_to_partition_streams_with_position_ids(self, contract_host: Host) -> None:
        events = [publish(topic="contract.a", key=f"k{n}", payload={"n": n}) for n in range(9)]
        r = redis_streams.client()
        assert redis_streams.relay(r) == 9
        assert redis_streams.relay(r) == 0
        found = {}
        for n in range(3):
            for entry_id, fields in r.xrange(f"{self.prefix}:contract.a:{n}"):
                found[int(fields["id"])] = (n, entry_id)
        assert sorted(found) == [e.id for e in events]
        for event in events:
            n, entry_id = found[event.id]
            assert n == event.partition
            assert entry_id.endswith("-0")

    def test_relay_command_moves_the_outbox_to_streams(self, contract_host: Host) -> None:
        import io

        from django.core.management import call_command

        for n in range(4):
            publish(topic="contract.a", key="cmd", payload={"n": n})
        out = io.StringIO()
        call_command("events_relay", "--once", stdout=out)
        assert "relayed 4 event(s)" in out.getvalue()
        partition = publish(topic="contract.a", key="cmd", payload={}).partition
        assert redis_streams.client().xlen(f"{self.prefix}:contract.a:{partition}") == 4

    def test_re_relay_adds_nothing_twice(self, contract_host: Host) -> None:
        from trellis.events.models import Checkpoint

        for n in range(5):
            publish(topic="contract.b", key="same", payload={"n": n})
        r = redis_streams.client()
        redis_streams.relay(r)
        # A relay that died after XADD and before its checkpoint committed: relays again.
        Checkpoint.objects.filter(processor=redis_streams.RELAY).update(position=0)
        assert redis_streams.relay(r) == 5
        partition = publish(topic="contract.b", key="same", payload={}).partition
        assert r.xlen(f"{self.prefix}:contract.b:{partition}") == 5

    def test_streams_of_another_database_are_refused_not_skipped(self, contract_host: Host) -> None:
        from trellis.events import EventsError
        from trellis.events.models import Checkpoint, OutboxEvent

        publish(topic="contract.a", key="same", payload={"n": 1})
        r = redis_streams.client()
        redis_streams.relay(r)
        # The database is replaced (restored, recreated) while the streams stay.
        OutboxEvent.objects.all().delete()
        Checkpoint.objects.all().delete()
        publish(topic="contract.a", key="same", payload={"n": 2})
        with pytest.raises(EventsError, match="written from another database"):
            redis_streams.relay(r)

    def test_pending_entries_of_a_dead_consumer_are_reclaimed(self, contract_host: Host) -> None:
        with transaction.atomic():
            events = [publish(topic="contract.b", key=f"d{n}", payload={"n": n}) for n in range(6)]
        r = redis_streams.client()
        redis_streams.relay(r)
        # A consumer that took the leases and read every entry, then died before XACK.
        dead = redis_streams.Consumer(r, select(["contract-b"], contract_host), threading.Event())
        dead.leases()
        for processor, _topic, _n, stream in dead.wanted:
            r.xreadgroup(processor.name, dead.name, {stream: ">"}, count=100)
        pending = sum(r.xpending(s, "contract-b")["pending"] for *_, s in dead.wanted)
        assert pending == 6
        self.consume(contract_host, ["contract-b"])  # leases still held by the dead consumer
        assert self.suite.ids("contract-b") == []
        threading.Event().wait(1.2)  # its leases expire (TRELLIS_EVENTS_LEASE_SECONDS=1)
        self.consume(contract_host, ["contract-b"])
        assert sorted(self.suite.ids("contract-b")) == [e.id for e in events]
        assert sum(r.xpending(s, "contract-b")["pending"] for *_, s in dead.wanted) == 0

    def test_events_redis_lost_are_relayed_again(self, contract_host: Host) -> None:
        events = [publish(topic="contract.b", key=f"l{n}", payload={"n": n}) for n in range(6)]
        r = redis_streams.client()
        assert redis_streams.relay(r) == 6
        for key in r.scan_iter(f"{self.prefix}:*"):  # a Redis restarted without persistence
            r.delete(key)
        self.consume(contract_host, ["contract-b"])
        assert sorted(self.suite.ids("contract-b")) == [e.id for e in events]

    def test_consumers_of_a_processor_share_its_partitions(self, contract_host: Host) -> None:
        chosen = select(["contract-b"], contract_host)
        first = redis_streams.Consumer(redis_streams.client(), chosen, threading.Event())
        second = redis_streams.Consumer(redis_streams.client(), chosen, threading.Event())
        streams = len(first.wanted)
        assert streams >= 2

        def step(consumer: redis_streams.Consumer) -> set[tuple[str, str]]:
            consumer.last_acquire = float("-inf")  # do not wait for the next second
            consumer.leases()
            return set(consumer.held)

        try:
            assert len(step(first)) == streams  # alone, it takes every partition
            assert step(second) == set()  # registered, but every lease is taken
            assert len(step(first)) == -(-streams // 2)  # sees two: hands the surplus over
            assert len(step(second)) == streams - len(first.held)
            assert not set(first.held) & set(second.held)
            second.release()  # a consumer that stops leaves the set and its leases
            assert len(step(first)) == streams
        finally:
            first.release()
            second.release()


@pytest.mark.django_db(transaction=True)
def test_relay_command_refuses_the_inline_provider() -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="needs TRELLIS_EVENTS_PROVIDER=redis-streams"):
        call_command("events_relay", "--once")


def test_unreachable_redis_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    monkeypatch.setenv("TRELLIS_EVENTS_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("TRELLIS_EVENTS_REDIS_TIMEOUT", "0.5")
    with pytest.raises(redis.ConnectionError):
        redis_streams.client().ping()


def test_client_has_socket_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_EVENTS_REDIS_TIMEOUT", "2.5")
    kwargs = redis_streams.client().connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 2.5
    assert kwargs["socket_connect_timeout"] == 2.5
    assert redis_client  # the tests' own client has timeouts too (conftest)
