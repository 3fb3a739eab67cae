"""The ``reports`` processor: published records are counted once, exactly, in their domain."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any

import pytest
from django.db import transaction

from trellis.events import Event, select
from trellis.reports import handle_events, report_define, report_query
from trellis.reports.models import AppliedRecord, Report, ReportDistinct

from .conftest import TOPIC, VISITS, FakeForms, payload

pytestmark = pytest.mark.django_db(transaction=True)


def define(slug: str = "visits", domain: str = "demo", **changes: Any) -> Report:
    fields = {**VISITS, **changes}
    return report_define(domain=domain, slug=slug, title=slug.title(), **fields)


def event(n: int, record: dict[str, Any]) -> Event:
    return Event(
        id=n,
        topic=TOPIC,
        key=f"k{n}",
        payload=record,
        published_at=datetime.now(UTC),
        position=n,
    )


def test_the_processor_handles_the_topics_with_a_source(reports_host: Any) -> None:
    [processor] = [p for p in select(None, reports_host) if p.name == "reports"]
    assert list(processor.topics) == [TOPIC]


def test_published_records_are_counted_in_their_domain_only(
    reports_host: Any, forms: FakeForms
) -> None:
    define()
    define(domain="other")
    with transaction.atomic():
        forms.submit(payload("demo", "s1", {"village": "north", "household_size": 4}))
        forms.submit(payload("demo", "s2", {"village": "north", "household_size": 5}))
        forms.submit(payload("demo", "s3", {"village": "south"}))
        forms.submit(payload("demo", "s4", {"village": "north"}, form="other_form"))
    rows = report_query(domain="demo", slug="visits").rows
    assert rows == [
        {"village": "north", "week": "2026-01-05", "visits": 2, "avg_size": Decimal("4.5")},
        {"village": "south", "week": "2026-01-05", "visits": 1, "avg_size": None},
    ]
    assert report_query(domain="other", slug="visits").rows == []
    report = Report.objects.get(domain="demo")
    assert (report.records, report.groups) == (3, 2)


def test_redelivered_records_count_once(reports_host: Any) -> None:
    report = define()
    record = payload("demo", "s1", {"village": "north", "household_size": 3})
    with transaction.atomic():
        handle_events([event(1, record), event(2, record)])  # twice in one batch
    with transaction.atomic():
        handle_events([event(1, record)])  # and again later
    [row] = report_query(domain="demo", slug="visits").rows
    assert row["visits"] == 1
    assert AppliedRecord.objects.filter(report=report).count() == 1
    report.refresh_from_db()
    assert report.records == 1


def test_records_without_domain_or_id_are_skipped(reports_host: Any, caplog: Any) -> None:
    define()
    broken = payload("demo", "s1", {"village": "north"})
    del broken["submission_id"]
    with transaction.atomic():
        handle_events([event(1, broken), event(2, {"not": "a form"}), event(3, "text")])  # type: ignore[arg-type]
    assert report_query(domain="demo", slug="visits").rows == []
    assert "no domain or 'submission_id'" in caplog.text


def test_every_aggregate_is_exact(reports_host: Any) -> None:
    define(
        slug="sizes",
        filters=[],
        group_by=[],
        aggregates=[
            {"fn": "count", "as": "records"},
            {"fn": "count", "field": "data.size", "as": "with_size"},
            {"fn": "sum", "field": "data.size", "as": "total"},
            {"fn": "avg", "field": "data.size", "as": "mean"},
            {"fn": "min", "field": "data.size", "as": "low"},
            {"fn": "max", "field": "data.size", "as": "high"},
            {"fn": "count_distinct", "field": "user", "as": "users"},
        ],
        chart={"type": "bar", "y": "total"},
    )
    sizes: list[Any] = [0.1, 0.2, 0.1, "7", None, True, 10**30, -2.5]
    records = [
        payload("demo", f"s{i}", {"size": size}, user=f"u{i % 3}") for i, size in enumerate(sizes)
    ]
    records.append(payload("demo", "s-missing", {}, user=None))
    with transaction.atomic():
        handle_events([event(i, r) for i, r in enumerate(records)])
    [row] = report_query(domain="demo", slug="sizes").rows
    numeric = [Decimal("0.1"), Decimal("0.2"), Decimal("0.1"), Decimal(10**30), Decimal("-2.5")]
    with localcontext(prec=100):  # the default 28 digits would round this sum
        total = sum(numeric)
        mean = (total / 5).quantize(Decimal("0.000001"))
    assert row == {
        "records": 9,
        "with_size": 7,  # present and not null: "7" and True count, null and missing do not
        "total": total,
        "mean": mean,
        "low": Decimal("-2.5"),
        "high": Decimal(10**30),
        "users": 3,  # u0, u1, u2; a null user is not a value
    }
    assert str(row["total"]) == "999999999999999999999999999997.9", "no rounding at 28 digits"


def test_count_distinct_counts_values_per_group_across_batches(reports_host: Any) -> None:
    report = define(
        slug="users",
        filters=[],
        group_by=[{"field": "data.village", "as": "village"}],
        aggregates=[{"fn": "count_distinct", "field": "user", "as": "users"}],
        chart={"type": "bar"},
    )
    for n, (village, user) in enumerate(
        [("a", "x"), ("a", "y"), ("b", "x"), ("a", "x"), ("a", "z"), ("b", "x")]
    ):
        with transaction.atomic():
            handle_events([event(n, payload("demo", f"s{n}", {"village": village}, user=user))])
    rows = report_query(domain="demo", slug="users").rows
    assert rows == [{"village": "a", "users": 3}, {"village": "b", "users": 1}]
    counts = sorted(ReportDistinct.objects.filter(report=report).values_list("records", flat=True))
    assert counts == [1, 1, 2, 2], "per-group distinct values with their record counts"


def test_a_definition_change_empties_the_report_until_rebuilt(
    reports_host: Any, forms: FakeForms
) -> None:
    from trellis.reports import report_rebuild

    define()
    forms.submit(payload("demo", "s1", {"village": "north"}))
    report_rebuild(domain="demo", slug="visits")
    assert report_query(domain="demo", slug="visits").count == 1
    define(filters=[])
    found = report_query(domain="demo", slug="visits")
    assert found.needs_rebuild and found.count == 0
    forms.submit(payload("demo", "s2", {"village": "south"}))
    assert [r["village"] for r in report_query(domain="demo", slug="visits").rows] == ["south"]
    report_rebuild(domain="demo", slug="visits")
    found = report_query(domain="demo", slug="visits")
    assert not found.needs_rebuild
    assert [r["village"] for r in found.rows] == ["north", "south"]


def test_a_report_over_no_records_yet_needs_no_rebuild(reports_host: Any, forms: FakeForms) -> None:
    def needs_rebuild(domain: str) -> bool:
        return Report.objects.get(domain=domain, slug="visits").needs_rebuild

    define()  # nothing recorded in "demo" yet: complete as it stands (checked after commit)
    assert not needs_rebuild("demo")
    forms.submit(payload("demo", "s1", {"village": "north"}))
    define(filters=[])  # a change with records to recount
    assert needs_rebuild("demo")
    forms.submit(payload("busy", "s2", {"village": "north"}))
    define(domain="busy")  # records exist before the report
    assert needs_rebuild("busy")
    with transaction.atomic():  # defined in a transaction that also records: still flagged
        define(domain="late")
        forms.submit(payload("late", "s3", {"village": "north"}))
    assert needs_rebuild("late")
    assert report_query(domain="late", slug="visits").count == 1, "counted by the processor"
