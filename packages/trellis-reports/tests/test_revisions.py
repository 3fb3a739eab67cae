"""Revised records (``Source.revision_field``): a newer revision of a counted record replaces
its earlier contribution exactly, in every aggregate; older or repeated revisions change
nothing; a rebuild stores what it counted so later revisions still retract correctly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trellis.events import Event
from trellis.reports import ReportsError, Source, handle_events, report_define, report_query
from trellis.reports import report_rebuild as rebuild
from trellis.reports.models import AppliedRecord, Report, ReportDistinct, ReportRow

from .conftest import TOPIC, FakeForms, payload
from .test_rebuild import (
    DEFINITIONS,
    RECORD,
    build,
    define_all,
    distinct_rows,
    expected,
    snapshot,
)
from .test_rebuild import event as rebuild_event

pytestmark = pytest.mark.django_db

EVERYTHING: dict[str, Any] = {
    "source_topic": TOPIC,
    "filters": [{"field": "form", "op": "eq", "value": "household_visit"}],
    "group_by": [{"field": "data.village", "as": "village"}],
    "aggregates": [
        {"fn": "count", "as": "n"},
        {"fn": "count", "field": "data.size", "as": "with_size"},
        {"fn": "sum", "field": "data.size", "as": "total"},
        {"fn": "avg", "field": "data.size", "as": "mean"},
        {"fn": "min", "field": "data.size", "as": "low"},
        {"fn": "max", "field": "data.size", "as": "high"},
        {"fn": "count_distinct", "field": "user", "as": "users"},
    ],
    "chart": {"type": "bar", "x": "village", "y": "n"},
}

_events = iter(range(1, 10**9))


@pytest.fixture
def revised(reports_host: Any, forms: FakeForms) -> FakeForms:
    """The fake forms source with ``revision_field="revision"``, and the report ``everything``."""
    forms.revision_field = "revision"
    report_define(domain="demo", slug="everything", title="Everything", **EVERYTHING)
    return forms


def record(
    sid: str,
    revision: Any,
    village: str | None = "north",
    size: Any = 1,
    user: str | None = "ada",
    form: str = "household_visit",
) -> dict[str, Any]:
    return payload("demo", sid, {"village": village, "size": size}, user=user, form=form,
                   revision=revision)  # fmt: skip


def deliver(*records: dict[str, Any]) -> None:
    """One processor batch of these records, in this order."""
    with transaction.atomic():
        handle_events(
            [Event(n, TOPIC, f"k{n}", r, datetime.now(UTC), position=n)
             for n, r in zip(_events, records, strict=False)]
        )  # fmt: skip


def rows() -> dict[Any, dict[str, Any]]:
    return {r.pop("village"): r for r in report_query(domain="demo", slug="everything").rows}


def report() -> Report:
    return Report.objects.get(domain="demo", slug="everything")


def row(n: int, sizes: list[Any], users: int, present: int | None = None) -> dict[str, Any]:
    """The expected row of ``n`` records with these numeric sizes and distinct users
    (``present``: records with a non-null size, when not just the numeric ones)."""
    numbers = [Decimal(str(s)) for s in sizes]
    total = sum(numbers, Decimal(0))
    return {
        "n": n,
        "with_size": len(numbers) if present is None else present,
        "total": total if numbers else None,
        "mean": (total / len(numbers)).quantize(Decimal("0.000001")) if numbers else None,
        "low": min(numbers) if numbers else None,
        "high": max(numbers) if numbers else None,
        "users": users,
    }


def test_count_sum_and_avg_retract_by_subtraction(revised: FakeForms) -> None:
    deliver(record("a", 1, size=4), record("b", 1, size=0.1))
    assert rows() == {"north": row(2, [4, 0.1], 1)}
    deliver(record("a", 2, size=0.2))
    assert rows() == {"north": row(2, [0.2, 0.1], 1)}
    assert str(rows()["north"]["total"]) == "0.3"
    deliver(record("a", 3, size=None))  # no longer counted by with_size, sum, avg
    assert rows() == {"north": row(2, [0.1], 1)}
    deliver(record("b", 2, size="text"))  # present, but not a number
    assert rows() == {"north": row(2, [], 1, present=1)}
    assert (report().records, report().groups) == (2, 1)


def test_min_and_max_are_recomputed_when_the_retracted_record_held_the_extreme(
    revised: FakeForms,
) -> None:
    deliver(record("a", 1, size=1), record("b", 1, size=5), record("c", 1, size=9))
    deliver(record("d", 1, size=9))
    assert (rows()["north"]["low"], rows()["north"]["high"]) == (1, 9)
    deliver(record("c", 2, size=2))  # one of two records holding the max
    assert (rows()["north"]["low"], rows()["north"]["high"]) == (1, 9)
    deliver(record("d", 2, size=3))  # the last one holding it
    assert (rows()["north"]["low"], rows()["north"]["high"]) == (1, 5)
    deliver(record("a", 2, size=None))  # the min's record loses its value
    assert (rows()["north"]["low"], rows()["north"]["high"]) == (2, 5)
    deliver(record("b", 2, size=4))  # neither extreme: no recomputation needed
    assert rows() == {"north": row(4, [2, 3, 4], 1)}
    deliver(record("b", 3, size=-7), record("c", 3, size=100))  # new extremes by revision
    assert rows() == {"north": row(4, [-7, 3, 100], 1)}
    deliver(*(record(s, 9, size=None) for s in "abcd"))
    assert rows() == {"north": row(4, [], 1)}


def test_count_distinct_retracts_a_unique_value_and_a_shared_one(revised: FakeForms) -> None:
    deliver(record("a", 1, user="ada"), record("b", 1, user="bo"), record("c", 1, user="bo"))
    assert rows()["north"]["users"] == 2
    distinct = ReportDistinct.objects.filter(report=report())
    assert sorted(distinct.values_list("records", flat=True)) == [1, 2]
    deliver(record("b", 2, user="ada"))  # "bo" shared with c: still there, once
    assert rows()["north"]["users"] == 2
    assert sorted(distinct.values_list("records", flat=True)) == [1, 2]
    deliver(record("c", 2, user="ada"))  # "bo" was unique to c now: gone
    assert rows()["north"]["users"] == 1
    assert list(distinct.values_list("records", flat=True)) == [3]
    deliver(record("a", 2, user=None), record("b", 3, user=None), record("c", 3, user="cy"))
    assert rows()["north"]["users"] == 1
    assert list(distinct.values_list("records", flat=True)) == [1]


def test_a_record_moving_to_another_group_leaves_an_empty_group_behind(
    revised: FakeForms,
) -> None:
    deliver(record("a", 1, village="north", size=3, user="ada"), record("b", 1, village="south"))
    assert (report().records, report().groups) == (2, 2)
    deliver(record("a", 2, village="south", size=8, user="cy"))
    assert rows() == {"south": row(2, [1, 8], 2)}
    assert (report().records, report().groups) == (2, 1)
    assert ReportRow.objects.filter(report=report()).count() == 1
    assert ReportDistinct.objects.filter(report=report()).count() == 2  # south's ada and cy
    deliver(record("a", 3, village=None))  # and on to a new group
    assert set(rows()) == {"south", None}
    assert (report().records, report().groups) == (2, 2)


def test_a_revision_the_filters_now_keep_or_now_leave_out(revised: FakeForms) -> None:
    deliver(record("a", 1, form="follow_up", size=5), record("b", 1, size=1))
    assert rows() == {"north": row(1, [1], 1)}
    deliver(record("a", 2, size=5))  # now kept
    assert rows() == {"north": row(2, [1, 5], 1)}
    deliver(record("a", 3, form="follow_up", village="east"))  # now left out
    assert rows() == {"north": row(1, [1], 1)}
    deliver(record("b", 2, form="follow_up"))  # the group's last record left out
    assert rows() == {}
    assert (report().records, report().groups) == (0, 0)
    assert not ReportDistinct.objects.filter(report=report()).exists()
    deliver(record("a", 2, size=5), record("b", 1, size=1))  # late older revisions: ignored
    assert rows() == {}
    deliver(record("b", 3, size=6))
    assert rows() == {"north": row(1, [6], 1)}


def test_an_older_or_repeated_revision_changes_nothing(revised: FakeForms) -> None:
    deliver(record("a", 2, size=2))
    version = report().version
    deliver(record("a", 1, size=1))  # revision 1 arriving after revision 2
    deliver(record("a", 2, size=2))  # revision 2 redelivered
    deliver(record("a", 2, size=99))  # the same revision number: still a redelivery
    assert rows() == {"north": row(1, [2], 1)}
    assert report().version == version, "nothing changed: the cached answers stay valid"
    mark = AppliedRecord.objects.get(report=report(), record_id="a")
    assert mark.revision == 2


def test_a_batch_keeps_each_records_highest_revision(revised: FakeForms) -> None:
    deliver(record("a", 2, size=2), record("a", 3, size=3), record("a", 1, size=1))
    assert rows() == {"north": row(1, [3], 1)}
    deliver(record("a", 1, size=1), record("a", 4, size=4), record("a", 4, size=5))
    assert rows() == {"north": row(1, [4], 1)}, "the first of equal revisions"
    assert report().records == 1


def test_every_change_bumps_the_version(revised: FakeForms) -> None:
    deliver(record("a", 1, size=1))
    before = report().version
    deliver(record("a", 2, size=2))
    assert report().version == before + 1
    deliver(record("a", 3, form="follow_up"))
    assert report().version == before + 2


@pytest.mark.parametrize("bad", [None, "2", 0, -1, True, 2.0, 10**30, "missing"])
def test_a_missing_or_invalid_revision_counts_as_1_and_is_logged(
    revised: FakeForms, caplog: Any, bad: Any
) -> None:
    first = record("a", bad, size=1)
    if bad == "missing":
        del first["revision"]
    else:
        first["revision"] = bad
    deliver(first)
    assert "'revision'" in caplog.text and "taken as 1" in caplog.text
    assert rows() == {"north": row(1, [1], 1)}
    deliver(record("a", 1, size=7))
    assert rows() == {"north": row(1, [1], 1)}, "revision 1 again: a redelivery"
    deliver(record("a", 2, size=7))
    assert rows() == {"north": row(1, [7], 1)}


def test_a_source_without_revision_field_counts_each_record_once_as_before(
    reports_host: Any, forms: FakeForms
) -> None:
    report_define(domain="demo", slug="everything", title="Everything", **EVERYTHING)
    deliver(record("a", 1, size=1))
    version = report().version
    deliver(record("a", 2, size=7), record("b", 5, form="follow_up"))
    assert rows() == {"north": row(1, [1], 1)}
    assert report().version == version
    assert AppliedRecord.objects.filter(report=report()).count() == 1, "left-out b not marked"


def test_source_checks_its_revision_field() -> None:
    assert Source(TOPIC, "submission_id", list).revision_field is None
    assert Source(TOPIC, "submission_id", list, revision_field="revision").revision_field
    for bad in ["", 3, b"revision"]:
        with pytest.raises(ReportsError, match="revision_field"):
            Source(TOPIC, "submission_id", list, revision_field=bad)  # type: ignore[arg-type]


def test_after_a_rebuild_later_revisions_retract_what_it_counted(revised: FakeForms) -> None:
    revised.records = [
        record("a", 1, size=9, user="ada"),
        record("b", 2, size=1, user="bo"),
        record("c", 3, form="follow_up", size=50),
        record("d", 1, village="south", size=4),
    ]
    result = rebuild(domain="demo", slug="everything")
    assert (result.read, result.counted, result.groups) == (4, 3, 2)
    assert rows() == {"north": row(2, [9, 1], 2), "south": row(1, [4], 1)}
    marks = AppliedRecord.objects.filter(report=report()).order_by("record_id")
    assert [(m.record_id, m.revision, m.key is None) for m in marks] == [
        ("a", 1, False),
        ("b", 2, False),
        ("c", 3, True),  # left out by the filters, but marked with its revision
        ("d", 1, False),
    ]
    deliver(record("b", 1, size=100), record("c", 2, size=100))  # older than the rebuild's
    assert rows() == {"north": row(2, [9, 1], 2), "south": row(1, [4], 1)}
    deliver(record("a", 2, size=3, user="bo"), record("d", 2, village="north", size=4))
    assert rows() == {"north": row(3, [3, 1, 4], 2)}
    assert (report().records, report().groups) == (3, 1)
    deliver(record("c", 4, size=0.5))
    assert rows() == {"north": row(4, [3, 1, 4, 0.5], 2)}
    incremental = rows()
    revised.records.extend(
        [
            record("a", 2, size=3, user="bo"),
            record("d", 2, village="north", size=4),
            record("c", 4, size=0.5),
        ]
    )
    rebuild(domain="demo", slug="everything")
    assert rows() == incremental


def test_marks_from_before_revisions_were_tracked_ask_for_a_rebuild(
    revised: FakeForms, caplog: Any
) -> None:
    Report.objects.update(needs_rebuild=False)  # as its after-commit check would
    deliver(record("a", 1, size=1), record("b", 1, size=9))
    # As a mark written before this version of the package: no revision, group or parts.
    AppliedRecord.objects.filter(report=report(), record_id="b").update(
        revision=None, key=None, parts=None
    )
    deliver(record("b", 1, size=5))
    assert not report().needs_rebuild, "a redelivery needs nothing"
    version = report().version
    deliver(record("b", 2, size=5))
    assert report().needs_rebuild
    assert report().version == version + 1
    assert "rebuild" in caplog.text
    revised.records = [record("a", 1, size=1), record("b", 2, size=5)]
    rebuild(domain="demo", slug="everything")
    assert rows() == {"north": row(2, [1, 5], 1)}
    deliver(record("b", 3, size=2))
    assert rows() == {"north": row(2, [1, 2], 1)}


# -- the property: any delivery of any revisions equals a recount of the latest ones ----------


def marks() -> set[tuple[Any, ...]]:
    return {
        (slug, rid, revision, key, json.dumps(parts, sort_keys=True))
        for slug, rid, revision, key, parts in AppliedRecord.objects.values_list(
            "report__slug", "record_id", "revision", "key", "parts"
        )
    }


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(histories=st.lists(st.lists(RECORD, min_size=1, max_size=4), max_size=12), data=st.data())
def test_revisions_delivered_in_any_order_with_a_rebuild_equal_a_recount_of_the_latest(
    reports_host: Any, forms: FakeForms, histories: list[list[dict[str, Any]]], data: Any
) -> None:
    Report.objects.all().delete()
    forms.revision_field = "revision"
    define_all()
    versions = {
        (n, r + 1): {**build(n, raw), "revision": r + 1}
        for n, raws in enumerate(histories)
        for r, raw in enumerate(raws)
    }
    latest = [versions[(n, len(raws))] for n, raws in enumerate(histories)]
    # Every revision published once, some again (at least once), in any order, in random
    # batches, with a rebuild somewhere in between. What the source holds at the rebuild is,
    # per record, some revision stored by then: at least every one delivered before it.
    published = list(versions.values())
    deliveries = published + (
        data.draw(st.lists(st.sampled_from(published), max_size=10)) if published else []
    )
    deliveries = data.draw(st.permutations(deliveries))
    cuts = sorted(data.draw(st.sets(st.integers(0, len(deliveries)), max_size=6)))
    rebuild_at = data.draw(st.none() | st.integers(0, len(cuts)))
    batches = [deliveries[a:b] for a, b in zip([0, *cuts], [*cuts, len(deliveries)], strict=True)]
    delivered: dict[str, int] = {}
    for index, batch in enumerate(batches):
        if index == rebuild_at:
            forms.records = []
            for n, raws in enumerate(histories):
                stored = max(delivered.get(f"s{n}", 0), data.draw(st.integers(0, len(raws))))
                if stored:
                    forms.records.append(versions[(n, stored)])
            for slug in data.draw(st.sets(st.sampled_from(sorted(DEFINITIONS)), min_size=1)):
                rebuild(domain="demo", slug=slug)
        with transaction.atomic():
            handle_events([rebuild_event(n, r) for n, r in enumerate(batch)])
        for r in batch:
            delivered[r["submission_id"]] = max(delivered.get(r["submission_id"], 0), r["revision"])
    incremental = {slug: snapshot(slug) for slug in DEFINITIONS}
    for slug in DEFINITIONS:
        wanted = expected(slug, latest)
        assert incremental[slug] == wanted, slug
        found = Report.objects.get(slug=slug)
        count = "visits" if slug == "visits" else "n"
        assert found.groups == len(wanted)
        assert found.records == sum(v[count] for v in wanted.values())
        assert ReportRow.objects.filter(report=found).count() == len(wanted)
    incremental_distinct = distinct_rows()
    incremental_marks = marks()
    forms.records = list(latest)
    for slug in DEFINITIONS:
        rebuild(domain="demo", slug=slug)
    assert {slug: snapshot(slug) for slug in DEFINITIONS} == incremental
    assert distinct_rows() == incremental_distinct
    assert marks() == incremental_marks
