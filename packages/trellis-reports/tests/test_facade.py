"""The public facade end to end on SQLite, in-process (the release contract suite: no
relative imports, no servers): define, publish, query, rebuild to the same numbers."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from trellis import events, reports
from trellis.core import _global, hookimpl, set_host
from trellis.core.testing import isolated_host

pytestmark = pytest.mark.django_db(transaction=True)


class Orders:
    TRELLIS_IMPLEMENTS = {"events": ">=1.0,<2", "reports": ">=1.0,<2"}

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    @hookimpl
    def events_topics(self) -> list[events.Topic]:
        return [events.Topic("shop.sold", "An item was sold")]

    @hookimpl
    def reports_sources(self) -> list[reports.Source]:
        return [reports.Source("shop.sold", "sale_id", self.of_domain)]

    def of_domain(self, domain: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["domain"] == domain]

    def sell(self, domain: str, sale_id: str, item: str, price: float, at: str) -> None:
        row = {"domain": domain, "sale_id": sale_id, "item": item, "price": price, "at": at}
        with transaction.atomic():
            self.rows.append(row)
            events.publish(topic="shop.sold", key=sale_id, payload=row)


@pytest.fixture
def orders() -> Iterator[Orders]:
    from trellis.events import inline
    from trellis.events import plugin as events_plugin
    from trellis.reports import plugin as reports_plugin

    plugin = Orders()
    host = isolated_host()
    for module, name in (
        (events_plugin, "events"),
        (inline, "events-inline"),
        (reports_plugin, "reports"),
        (plugin, "orders"),
    ):
        host.register(module, name)
    previous = _global._host
    set_host(host)
    yield plugin
    set_host(previous)


def test_incremental_numbers_equal_a_rebuild(orders: Orders) -> None:
    reports.report_define(
        domain="shop",
        slug="sales",
        title="Sales by item and month",
        source_topic="shop.sold",
        filters=[{"field": "price", "op": "gt", "value": 0}],
        group_by=[
            {"field": "item", "as": "item"},
            {"field": "at", "truncate": "month", "as": "month"},
        ],
        aggregates=[
            {"fn": "count", "as": "sales"},
            {"fn": "sum", "field": "price", "as": "revenue"},
            {"fn": "min", "field": "price", "as": "cheapest"},
            {"fn": "max", "field": "price", "as": "dearest"},
            {"fn": "avg", "field": "price", "as": "mean"},
            {"fn": "count_distinct", "field": "price", "as": "prices"},
        ],
        chart={"type": "line", "x": "month", "y": "revenue"},
    )
    reports.report_rebuild(domain="shop", slug="sales")
    sales = [
        ("tea", 0.1, "2026-01-03T10:00:00Z"),
        ("tea", 0.2, "2026-01-30T10:00:00Z"),
        ("tea", 0.1, "2026-02-01T00:00:00Z"),
        ("cake", 2.5, "2026-01-10T10:00:00+01:00"),
        ("cake", -1, "2026-01-10T10:00:00Z"),
    ]
    for n, (item, price, at) in enumerate(sales):
        orders.sell("shop", f"o{n}", item, price, at)
    orders.sell("elsewhere", "o9", "tea", 5, "2026-01-03T10:00:00Z")
    incremental = reports.report_query(domain="shop", slug="sales")
    assert incremental.rows == [
        {
            "item": "cake",
            "month": "2026-01-01",
            "sales": 1,
            "revenue": Decimal("2.5"),
            "cheapest": Decimal("2.5"),
            "dearest": Decimal("2.5"),
            "mean": Decimal("2.5"),
            "prices": 1,
        },
        {
            "item": "tea",
            "month": "2026-01-01",
            "sales": 2,
            "revenue": Decimal("0.3"),
            "cheapest": Decimal("0.1"),
            "dearest": Decimal("0.2"),
            "mean": Decimal("0.15"),
            "prices": 2,
        },
        {
            "item": "tea",
            "month": "2026-02-01",
            "sales": 1,
            "revenue": Decimal("0.1"),
            "cheapest": Decimal("0.1"),
            "dearest": Decimal("0.1"),
            "mean": Decimal("0.1"),
            "prices": 1,
        },
    ]
    result = reports.report_rebuild(domain="shop", slug="sales")
    assert (result.read, result.counted, result.groups) == (5, 4, 3)
    assert reports.report_query(domain="shop", slug="sales").rows == incremental.rows
    assert (
        reports.report_query(
            domain="shop", slug="sales", filters={"item": ["tea"]}, limit=1, offset=1
        ).rows
        == incremental.rows[2:]
    )
