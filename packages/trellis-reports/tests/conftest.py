"""Fixtures: a fake ``form.submitted`` publisher and Source (what trellis-forms gives), on a
host with only trellis-events (inline), trellis-reports and it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from trellis.core import Host, hookimpl
from trellis.events import Topic, publish
from trellis.reports import Source

TOPIC = "form.submitted"


def payload(
    domain: str,
    submission_id: str,
    data: Mapping[str, Any],
    *,
    form: str = "household_visit",
    received_at: str = "2026-01-05T10:00:00.000000Z",
    user: str | None = "ada",
    revision: Any = 1,
) -> dict[str, Any]:
    """A ``form.submitted`` payload of the agreed shape (trellis-forms: with ``revision``)."""
    return {
        "domain": domain,
        "form": form,
        "form_version": 1,
        "submission_id": submission_id,
        "revision": revision,
        "received_at": received_at,
        "user": user,
        "data": dict(data),
        "attachments": [],
        "cases": [],
    }


class FakeForms:
    """Declares ``form.submitted``, keeps its raw records in memory, grants viewers by name."""

    TRELLIS_IMPLEMENTS = {"events": ">=1.0,<2", "reports": ">=1.0,<2"}

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.viewers: dict[str, set[str]] = {}
        self.denied: dict[str, set[str]] = {}
        self.reads: list[str] = []
        self.broken = False
        self.revision_field: str | None = None  # "revision": records may be revised

    def read(self, domain: str) -> list[dict[str, Any]]:
        """The domain's records; with a revision field, each record's latest revision only
        (the first of equal ones), as a source of revised records must yield them."""
        self.reads.append(domain)
        mine = [r for r in self.records if r["domain"] == domain]
        if self.revision_field is None:
            return mine
        latest: dict[Any, dict[str, Any]] = {}
        for record in mine:
            held = latest.get(record["submission_id"])
            if held is None or _revision(record) > _revision(held):
                latest[record["submission_id"]] = record
        return list(latest.values())

    def submit(self, record: dict[str, Any], *, publish_event: bool = True) -> dict[str, Any]:
        """Store ``record`` as raw data and publish its event (in the caller's transaction)."""
        self.records.append(record)
        if publish_event:
            publish(
                topic=TOPIC, key=f"{record['domain']}:{record['submission_id']}", payload=record
            )
        return record

    def deliver(self, record: dict[str, Any]) -> dict[str, Any]:
        """Store ``record`` and hand its event straight to the reports processor's handler
        (no outbox: for tests that need no transaction=True database)."""
        from datetime import UTC, datetime

        from django.db import transaction

        from trellis.events import Event
        from trellis.reports import handle_events

        self.records.append(record)
        n = len(self.records)
        with transaction.atomic():
            handle_events([Event(n, TOPIC, f"k{n}", record, datetime.now(UTC), position=n)])
        return record

    @hookimpl
    def events_topics(self) -> Sequence[Topic]:
        return [Topic(TOPIC, "A form submission was stored")]

    @hookimpl
    def reports_sources(self) -> Sequence[Source]:
        return [
            Source(
                TOPIC,
                "submission_id",
                self.read,
                "form submissions",
                revision_field=self.revision_field,
            )
        ]

    @hookimpl
    def reports_can_view(self, user: Any, domain: str) -> bool | None:
        if self.broken:
            raise RuntimeError("membership store down")
        if user.get_username() in self.denied.get(domain, set()):
            return False
        return True if user.get_username() in self.viewers.get(domain, set()) else None


def _revision(record: Mapping[str, Any]) -> int:
    value = record.get("revision")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


@pytest.fixture
def forms() -> FakeForms:
    return FakeForms()


@pytest.fixture
def reports_host(forms: FakeForms) -> Iterator[Host]:
    """The process-wide host for one test: events (inline), reports and the fake forms."""
    from trellis.core import _global, set_host
    from trellis.core.testing import isolated_host
    from trellis.events import inline
    from trellis.events import plugin as events_plugin
    from trellis.reports import plugin as reports_plugin

    host = isolated_host()
    host.register(events_plugin, "events")
    host.register(inline, "events-inline")
    host.register(reports_plugin, "reports")
    host.register(forms, "fake-forms")
    bad = [p for p in host.plugins() if p.status != "active"]
    assert not bad, [(p.name, p.reason) for p in bad]
    previous = _global._host
    set_host(host)
    yield host
    set_host(previous)


VISITS: dict[str, Any] = {
    "source_topic": TOPIC,
    "filters": [{"field": "form", "op": "eq", "value": "household_visit"}],
    "group_by": [
        {"field": "data.village", "as": "village"},
        {"field": "received_at", "truncate": "week", "as": "week"},
    ],
    "aggregates": [
        {"fn": "count", "as": "visits"},
        {"fn": "avg", "field": "data.household_size", "as": "avg_size"},
    ],
    "chart": {"type": "bar", "x": "village", "y": "visits"},
}
"""The spec's example definition."""
