"""Rebuilds give exactly the numbers incremental processing gives, whatever the delivery."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trellis.events import Event
from trellis.reports import (
    UnknownReport,
    UnknownSource,
    handle_events,
    report_define,
    report_query,
    report_rebuild,
    report_rebuild_all,
)
from trellis.reports.models import AppliedRecord, Report, ReportDistinct

from .conftest import TOPIC, VISITS, FakeForms, payload

ALL_AGGREGATES: dict[str, Any] = {
    "source_topic": TOPIC,
    "filters": [{"field": "data.household_size", "op": "exists", "value": True}],
    "group_by": [
        {"field": "received_at", "truncate": "month", "as": "month"},
        {"field": "data.village", "as": "village"},
    ],
    "aggregates": [
        {"fn": "count", "as": "n"},
        {"fn": "count", "field": "user", "as": "with_user"},
        {"fn": "sum", "field": "data.household_size", "as": "total"},
        {"fn": "min", "field": "data.household_size", "as": "low"},
        {"fn": "max", "field": "data.household_size", "as": "high"},
        {"fn": "avg", "field": "data.household_size", "as": "mean"},
        {"fn": "count_distinct", "field": "user", "as": "users"},
    ],
    "chart": {"type": "line", "x": "month", "y": "total"},
}
DEFINITIONS = {"visits": VISITS, "everything": ALL_AGGREGATES}
START = datetime(2025, 12, 20, tzinfo=UTC)
MISSING = object()


def define_all() -> None:
    for slug, definition in DEFINITIONS.items():
        report_define(domain="demo", slug=slug, title=slug, **definition)


def event(n: int, record: dict[str, Any]) -> Event:
    return Event(n, TOPIC, f"k{n}", record, datetime.now(UTC), position=n)


# -- a straightforward recomputation, independent of the package's code ----------------------


def monday_or_first(stamp: str, unit: str) -> str:
    day = datetime.fromisoformat(stamp).astimezone(UTC).date()
    if unit == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return date(day.year, day.month, 1).isoformat()


def plain_number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def expected(slug: str, records: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        data = r["data"]
        if slug == "visits":
            if r["form"] != "household_visit":
                continue
            key = (data.get("village"), monday_or_first(r["received_at"], "week"))
        else:
            if data.get("household_size") is None:
                continue
            key = (monday_or_first(r["received_at"], "month"), data.get("village"))
        groups[key].append(r)
    out = {}
    with localcontext(prec=200):
        for key, members in groups.items():
            sizes = [plain_number(m["data"].get("household_size")) for m in members]
            numbers = [s for s in sizes if s is not None]
            total = sum(numbers, Decimal(0))
            mean = (
                (total / len(numbers)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
                if numbers
                else None
            )
            if slug == "visits":
                out[key] = {"visits": len(members), "avg_size": mean}
            else:
                users = [m["user"] for m in members if m["user"] is not None]
                out[key] = {
                    "n": len(members),
                    "with_user": len(users),
                    "total": total if numbers else None,
                    "low": min(numbers) if numbers else None,
                    "high": max(numbers) if numbers else None,
                    "mean": mean,
                    "users": len(set(users)),
                }
    return out


def snapshot(slug: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    found = report_query(domain="demo", slug=slug)
    groups = [c.name for c in found.columns if c.kind == "group"]
    return {
        tuple(row[g] for g in groups): {k: v for k, v in row.items() if k not in groups}
        for row in found.rows
    }


def distinct_rows() -> set[tuple[Any, ...]]:
    return set(
        ReportDistinct.objects.values_list("report__slug", "key", "alias", "value", "records")
    )


# -- generated payloads ------------------------------------------------------------------------

SIZES = st.one_of(
    st.integers(-5, 12),
    st.integers(0, 999).map(lambda n: n / 100),
    st.just(10**25),
    st.none(),
    st.just("4"),
    st.just(MISSING),
)
RECORD = st.fixed_dictionaries(
    {
        "village": st.sampled_from(["north", "south", "Ålesund", None, MISSING]),
        "size": SIZES,
        "minutes": st.integers(0, 60 * 24 * 50),
        "offset": st.sampled_from(["Z", "+00:00", "-05:00", "+09:30"]),
        "form": st.sampled_from(["household_visit", "household_visit", "follow_up"]),
        "user": st.sampled_from(["ada", "bo", "cy", None]),
    }
)


def build(n: int, raw: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if raw["village"] is not MISSING:
        data["village"] = raw["village"]
    if raw["size"] is not MISSING:
        data["household_size"] = raw["size"]
    moment = START + timedelta(minutes=raw["minutes"])
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + raw["offset"]
    return payload("demo", f"s{n}", data, form=raw["form"], received_at=stamp, user=raw["user"])


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raws=st.lists(RECORD, max_size=40), data=st.data())
def test_processing_in_any_order_equals_a_rebuild_and_a_plain_recomputation(
    reports_host: Any, forms: FakeForms, raws: list[dict[str, Any]], data: Any
) -> None:
    Report.objects.all().delete()
    define_all()
    records = [build(n, raw) for n, raw in enumerate(raws)]
    forms.records = list(records)
    # At-least-once delivery: every record, some twice, in any order, in random batches,
    # with a rebuild somewhere in between (records it counted come again afterwards).
    deliveries = (
        records + data.draw(st.lists(st.sampled_from(records), max_size=10)) if records else []
    )
    deliveries = data.draw(st.permutations(deliveries))
    cuts = sorted(data.draw(st.sets(st.integers(0, len(deliveries)), max_size=6)))
    rebuild_at = data.draw(st.none() | st.integers(0, len(cuts)))
    batches = [deliveries[a:b] for a, b in zip([0, *cuts], [*cuts, len(deliveries)], strict=True)]
    for index, batch in enumerate(batches):
        if index == rebuild_at:
            report_rebuild(domain="demo", slug="everything")
        with transaction.atomic():
            handle_events([event(n, r) for n, r in enumerate(batch)])
    incremental = {slug: snapshot(slug) for slug in DEFINITIONS}
    incremental_distinct = distinct_rows()
    for slug in DEFINITIONS:
        assert incremental[slug] == expected(slug, records), slug
    for slug in DEFINITIONS:
        report_rebuild(domain="demo", slug=slug)
    assert {slug: snapshot(slug) for slug in DEFINITIONS} == incremental
    assert distinct_rows() == incremental_distinct


@pytest.mark.django_db
def test_rebuild_counts_the_source_and_clears_needs_rebuild(
    reports_host: Any, forms: FakeForms
) -> None:
    define_all()
    for n in range(3):
        forms.submit(
            payload("demo", f"s{n}", {"village": "north", "household_size": n}), publish_event=False
        )
    forms.submit(payload("elsewhere", "s9", {"village": "north"}), publish_event=False)
    forms.records.append({**forms.records[0]})  # a source yielding an id twice counts it once
    seen: list[int] = []
    result = report_rebuild(domain="demo", slug="visits", progress=seen.append)
    assert (result.read, result.counted, result.groups) == (4, 3, 1)
    assert seen == [4]
    assert forms.reads == ["demo"]
    report = Report.objects.get(slug="visits")
    assert not report.needs_rebuild and report.rebuilt_at is not None
    assert AppliedRecord.objects.filter(report=report).count() == 3
    assert snapshot("visits") == {("north", "2026-01-05"): {"visits": 3, "avg_size": Decimal(1)}}
    assert [r.slug for r in report_rebuild_all(domain="demo")] == ["everything", "visits"]


@pytest.mark.django_db
def test_rebuild_errors_name_the_report_and_the_source(reports_host: Any, forms: FakeForms) -> None:
    with pytest.raises(UnknownReport, match="no report 'nope' in domain 'demo'"):
        report_rebuild(domain="demo", slug="nope")
    define_all()
    Report.objects.filter(slug="visits").update(source_topic="case.changed")
    with pytest.raises(UnknownSource, match=r"no report source for topic 'case\.changed'"):
        report_rebuild(domain="demo", slug="visits")


@pytest.mark.django_db
def test_the_command_rebuilds_one_or_all_with_progress(reports_host: Any, forms: FakeForms) -> None:
    define_all()
    for n in range(1500):
        forms.records.append(payload("demo", f"s{n}", {"village": "north", "household_size": 1}))
    out, err = io.StringIO(), io.StringIO()
    call_command("reports_rebuild", "demo", "visits", stdout=out, stderr=err)
    assert "rebuilt demo/visits: 1500 of 1500 record(s) counted in 1 row(s)" in out.getvalue()
    assert "demo/visits: 1,000 records read" in err.getvalue()
    assert "demo/visits: 1,500 records read" in err.getvalue()
    out = io.StringIO()
    call_command("reports_rebuild", "--all", "--quiet", stdout=out, stderr=io.StringIO())
    assert out.getvalue().count("rebuilt demo/") == 2
    with pytest.raises(CommandError, match="name a report"):
        call_command("reports_rebuild", "demo")
    with pytest.raises(CommandError, match="no report 'nope'"):
        call_command("reports_rebuild", "demo", "nope", stderr=io.StringIO())
