"""Submissions (and edits of them) through the receiver's code feed reports that a rebuild
recounts exactly.

A property test over generated submissions: each goes through ``trellis.forms.submit`` in its
own transaction, so the inline events provider hands ``form.submitted`` to the reports
processor at commit (resends included, which publish nothing). The incremental report must
equal a plain Python recomputation from the accepted submissions, and ``report_rebuild`` (from
the forms source's raw records) must give the very same rows. Edits (``forms.revise``, an
OpenRosa ``deprecatedID``) publish the submission again with a higher revision: the report
must then count each submission's latest data only.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trellis import forms

reports = pytest.importorskip("trellis.reports")

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["village", "day"],
    "properties": {
        "village": {"type": "string", "minLength": 1},
        "day": {"type": "string", "format": "date"},
        "size": {"type": "number"},
        "child": {"type": "string"},
    },
}
DEFINITION: dict[str, Any] = {
    "source_topic": "form.submitted",
    "filters": [{"field": "form", "op": "eq", "value": "visit"}],
    "group_by": [
        {"field": "data.village", "as": "village"},
        {"field": "data.day", "truncate": "week", "as": "week"},
    ],
    "aggregates": [
        {"fn": "count", "as": "visits"},
        {"fn": "sum", "field": "data.size", "as": "total"},
        {"fn": "min", "field": "data.size", "as": "smallest"},
        {"fn": "max", "field": "data.size", "as": "largest"},
        {"fn": "avg", "field": "data.size", "as": "average"},
        {"fn": "count_distinct", "field": "data.child", "as": "children"},
    ],
}
_domains = itertools.count()

sizes = st.one_of(
    st.integers(-1000, 1000),
    st.decimals(-1000, 1000, places=2, allow_nan=False).map(float),
    st.none(),
)
visits = st.fixed_dictionaries(
    {
        "village": st.sampled_from(["north", "south", "Ñandú"]),
        "day": st.integers(0, 60).map(lambda d: (date(2026, 12, 20) + timedelta(d)).isoformat()),
        "size": sizes,
        "child": st.sampled_from(["a", "b", "c", None]),
    }
).map(lambda v: {k: x for k, x in v.items() if x is not None})


def _monday(day: str) -> str:
    parsed = date.fromisoformat(day)
    return (parsed - timedelta(days=parsed.weekday())).isoformat()


def _expected(accepted: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for data in accepted:
        groups[(data["village"], _monday(data["day"]))].append(data)
    expected = {}
    for key, rows in groups.items():
        numbers = [Decimal(str(r["size"])) for r in rows if "size" in r]
        expected[key] = {
            "visits": len(rows),
            "total": sum(numbers) if numbers else None,
            "smallest": min(numbers) if numbers else None,
            "largest": max(numbers) if numbers else None,
            "average": (sum(numbers) / len(numbers)) if numbers else None,
            "children": len({r["child"] for r in rows if "child" in r}),
        }
    return expected


def _rows(domain: str) -> dict[tuple[str, str], dict[str, Any]]:
    result = reports.report_query(domain=domain, slug="weekly", limit=1000)
    assert result.count == len(result.rows)
    return {(r["village"], r["week"]): r for r in result.rows}


def _close(got: Any, want: Any) -> bool:
    if want is None or got is None:
        return got == want
    return abs(Decimal(str(got)) - want) <= Decimal("0.000001")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(visits, min_size=1, max_size=12),
    st.lists(st.integers(0, 11), max_size=4),
    st.lists(st.tuples(st.integers(0, 11), visits), max_size=5),
)
def test_incremental_reports_equal_a_rebuild_and_a_recount(
    generated: list[dict[str, Any]],
    resends: list[int],
    edits: list[tuple[int, dict[str, Any]]],
) -> None:
    domain = f"agree-{next(_domains)}"
    forms.domain_create(name=domain)
    forms.form_define(domain=domain, name="visit", version=1, schema=SCHEMA, case_rules=[])
    reports.report_define(domain=domain, slug="weekly", title="Weekly", **DEFINITION)
    order = list(range(len(generated))) + [i for i in resends if i < len(generated)]
    for index in order:  # resends answer their first result and publish nothing new
        with transaction.atomic():
            forms.submit(
                domain=domain, form="visit", submission_id=f"s-{index}", data=generated[index]
            )
    latest = list(generated)
    current = {index: f"s-{index}" for index in range(len(generated))}
    for number, (index, data) in enumerate(edits):
        if index >= len(generated):
            continue
        with transaction.atomic():
            forms.revise(
                domain=domain,
                submission_id=current[index],
                new_id=f"e-{number}",
                form="visit",
                data=data,
            )
        current[index], latest[index] = f"e-{number}", data
    incremental = _rows(domain)
    expected = _expected(latest)
    assert set(incremental) == set(expected)
    for key, want in expected.items():
        for column, value in want.items():
            assert _close(incremental[key][column], value), (key, column)
    reports.report_rebuild(domain=domain, slug="weekly")
    assert _rows(domain) == incremental
