"""The ``events`` contract suite: what every events provider must do, as pytest tests.

Run it against a provider by subclassing it in a ``Test*`` class (needs pytest, pytest-django
and ``trellis-core[testing]``)::

    from trellis.events.testing import EventsContract

    class TestMyTransport(EventsContract):
        provider = "my-transport"
        plugins = [my_transport_plugin]   # in-process; or discover = True when installed

        def provider_settings(self, tmp_path):
            return {"MY_TRANSPORT_URL": "..."}   # environment for each test

The suite publishes through :func:`trellis.events.publish` on the test database (transactional
tests: commits are real) and runs ``events_consume(once=True)`` in-process, with processors
of its own plugin (:class:`SuitePlugin`) recording what they see.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from trellis.core import Host, hookimpl
from trellis.core.testing import ContractSuite, isolated_host

from . import plugin as events_plugin
from ._errors import UnknownTopic
from ._outbox import publish
from ._registry import select
from ._types import Event, Processor, Topic

__all__ = ["EventsContract", "SuitePlugin"]


class Poison(Exception):
    """What the suite's handlers raise for an event whose payload says ``{"poison": true}``."""


class SuitePlugin:
    """Topics ``contract.a`` and ``contract.b``; processors ``contract-all`` (both topics, batch
    5) and ``contract-b`` (topic b, batch 1). Handlers record ``(processor, event)`` in
    :attr:`seen` and fail on poison events."""

    TRELLIS_IMPLEMENTS = {"events": ">=1.0,<2"}

    def __init__(self) -> None:
        self.seen: list[tuple[str, Event]] = []
        self.batches: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def handler(self, name: str) -> Any:
        def handle(events: Sequence[Event]) -> None:
            with self.lock:
                self.batches.append((name, len(events)))
            if any(isinstance(e.payload, dict) and e.payload.get("poison") for e in events):
                raise Poison(f"poison event in a batch of {len(events)}")
            with self.lock:
                self.seen.extend((name, e) for e in events)

        return handle

    @hookimpl
    def events_topics(self) -> Sequence[Topic]:
        return [Topic("contract.a", "suite topic a"), Topic("contract.b", "suite topic b")]

    @hookimpl
    def events_processors(self) -> Sequence[Processor]:
        return [
            Processor(
                "contract-all",
                ["contract.a", "contract.b"],
                self.handler("contract-all"),
                batch_size=5,
                max_attempts=2,
                retry_backoff=lambda attempt: 0.0,
            ),
            Processor(
                "contract-b",
                ["contract.b"],
                self.handler("contract-b"),
                batch_size=1,
                max_attempts=2,
                retry_backoff=lambda attempt: 0.0,
            ),
        ]

    def ids(self, processor: str) -> list[int]:
        """Ids of the events ``processor`` handled successfully, in the order handled."""
        return [e.id for name, e in self.seen if name == processor]


@pytest.mark.django_db(transaction=True)
class EventsContract(ContractSuite):
    """Tests every ``events`` provider must pass; subclass it with ``provider = "<name>"``."""

    contract = "events"
    suite: SuitePlugin

    def provider_settings(self, tmp_path: Path) -> Mapping[str, str]:
        """Environment variables set for each test, before the host is built."""
        return {}

    @pytest.fixture(autouse=True)
    def _provider_environment(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in self.provider_settings(tmp_path).items():
            monkeypatch.setenv(name, value)

    def make_host(self) -> Host:
        self.suite = SuitePlugin()
        return isolated_host(
            events_plugin,
            *self.plugins,
            self.suite,
            providers={self.contract: self.provider},
            discover=self.discover,
        )

    @staticmethod
    def consume(host: Host, names: Sequence[str] = ()) -> int:
        """Run ``events_consume(once=True)`` on the provider for the named processors."""
        stop = threading.Event()
        handled: int = host.call(
            "events_consume", processors=select(list(names), host), stop=stop, once=True
        )
        return handled

    # -- tests ----------------------------------------------------------------------------------

    def test_committed_event_is_handled_once(self, contract_host: Host) -> None:
        with transaction.atomic():
            event = publish(topic="contract.a", key="k1", payload={"n": 1})
        self.consume(contract_host)
        self.consume(contract_host)
        assert self.suite.ids("contract-all") == [event.id]
        [(_, seen)] = [s for s in self.suite.seen if s[0] == "contract-all"]
        assert (seen.topic, seen.key, seen.payload) == ("contract.a", "k1", {"n": 1})
        assert seen.position is not None
        assert self.suite.ids("contract-b") == []

    def test_rolled_back_event_is_never_handled(self, contract_host: Host) -> None:
        class Abort(Exception):
            pass

        def publish_then_fail() -> None:
            with transaction.atomic():
                publish(topic="contract.a", key="k1", payload={"rolled": "back"})
                raise Abort

        with pytest.raises(Abort):
            publish_then_fail()
        kept = publish(topic="contract.b", key="k1", payload={"kept": True})
        self.consume(contract_host)
        assert self.suite.ids("contract-all") == [kept.id]
        assert self.suite.ids("contract-b") == [kept.id]

    def test_rolled_back_savepoint_drops_only_its_events(self, contract_host: Host) -> None:
        with transaction.atomic():
            first = publish(topic="contract.a", key="k", payload=1)
            try:
                with transaction.atomic():
                    publish(topic="contract.a", key="k", payload=2)
                    raise RuntimeError("inner")
            except RuntimeError:
                pass
            third = publish(topic="contract.a", key="k", payload=3)
        self.consume(contract_host)
        assert self.suite.ids("contract-all") == [first.id, third.id]

    def test_per_key_order_holds(self, contract_host: Host) -> None:
        published: dict[str, list[int]] = {}
        for n in range(24):
            key = f"key-{n % 4}"
            with transaction.atomic():
                event = publish(topic="contract.b", key=key, payload={"n": n})
            published.setdefault(key, []).append(event.id)
        self.consume(contract_host)
        for processor in ("contract-all", "contract-b"):
            handled: dict[str, list[int]] = {}
            for name, event in self.suite.seen:
                if name == processor:
                    handled.setdefault(event.key, []).append(event.id)
            assert handled == published, processor

    def test_poison_event_is_dead_lettered_and_later_events_go_on(
        self, contract_host: Host
    ) -> None:
        from .models import DeadLetter

        before = publish(topic="contract.b", key="p", payload={"n": 0})
        poison = publish(topic="contract.b", key="p", payload={"poison": True})
        after = publish(topic="contract.b", key="p", payload={"n": 2})
        self.consume(contract_host)
        self.consume(contract_host)
        for processor in ("contract-all", "contract-b"):
            assert self.suite.ids(processor) == [before.id, after.id], processor
        letters = {d.processor: d for d in DeadLetter.objects.all()}
        assert set(letters) == {"contract-all", "contract-b"}
        for letter in letters.values():
            assert letter.event_id == poison.id
            assert letter.attempts == 2
            assert "Poison" in letter.error
            assert letter.payload == '{"poison":true}'

    def test_failed_batch_is_retried_one_by_one(self, contract_host: Host) -> None:
        with transaction.atomic():
            events = [publish(topic="contract.a", key="batch", payload={"n": n}) for n in range(4)]
            poison = publish(topic="contract.a", key="batch", payload={"poison": True})
        self.consume(contract_host)
        assert self.suite.ids("contract-all") == [e.id for e in events]
        sizes = [size for name, size in self.suite.batches if name == "contract-all"]
        assert sizes[0] == 5, "the first attempt is the whole batch"
        assert set(sizes[1:]) == {1}, "after it failed, one event at a time"
        assert poison.id not in self.suite.ids("contract-all")

    def test_unknown_topic_is_refused(self, contract_host: Host) -> None:
        from .models import OutboxEvent

        with pytest.raises(UnknownTopic, match=r"'contract\.zzz'.*contract\.a, contract\.b"):
            publish(topic="contract.zzz", key="k", payload={})
        assert not OutboxEvent.objects.exists()

    def test_consume_runs_only_the_processors_named(self, contract_host: Host) -> None:
        event = publish(topic="contract.b", key="only", payload=None)
        self.consume(contract_host, ["contract-b"])
        assert self.suite.ids("contract-b") == [event.id]
        self.consume(contract_host)
        assert self.suite.ids("contract-all") == [event.id]
