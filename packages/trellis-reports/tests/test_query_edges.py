"""Query edges found from outside: a plain string as a filter's values, a report object
read just before its definition changed, and error messages naming the real range."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from trellis.reports import report_define, report_get, report_query
from trellis.reports.models import Report

from .conftest import VISITS, FakeForms, payload

pytestmark = pytest.mark.django_db
URL = "/a/demo/api/reports/visits/"


@pytest.fixture
def visits(reports_host: Any, forms: FakeForms) -> Report:
    report = report_define(domain="demo", slug="visits", title="Visits", **VISITS)
    for n, village in enumerate(["north", "north", "south"]):
        forms.deliver(payload("demo", f"s{n}", {"village": village, "household_size": n}))
    return report


def test_a_string_filter_value_is_one_value(visits: Report) -> None:
    listed = report_query(domain="demo", slug="visits", filters={"village": ["north"]})
    plain = report_query(domain="demo", slug="visits", filters={"village": "north"})  # type: ignore[dict-item]
    assert [r["village"] for r in listed.rows] == ["north"]
    assert plain.rows == listed.rows


def test_a_report_read_before_its_definition_changed_still_answers(
    visits: Report, forms: FakeForms
) -> None:
    """A request reads the report, then the definition changes and new rows are counted
    before it reads the rows: it answers (with the columns it read), never a 500."""
    stale = report_get(domain="demo", slug="visits")
    narrower = dict(VISITS, group_by=[{"field": "data.village", "as": "village"}])
    narrower["chart"] = {"type": "bar", "x": "village", "y": "visits"}
    report_define(domain="demo", slug="visits", title="Visits", **narrower)
    forms.deliver(payload("demo", "s9", {"village": "east", "household_size": 1}))
    found = report_query(domain="demo", slug="visits", report=stale)
    assert [c.name for c in found.columns] == ["village", "week", "visits", "avg_size"]
    assert found.rows == [{"village": "east", "week": None, "visits": 1, "avg_size": 1}]


@pytest.mark.parametrize("value", ["-1", "abc", "1e3", "10000000000"])
def test_a_bad_limit_names_its_real_range(visits: Report, admin_client: Client, value: str) -> None:
    body = admin_client.get(URL, {"limit": value}).json()
    assert body["code"] == "invalid_parameter" and body["field"] == "limit"
    assert "from 1 to 1000" in body["message"], body["message"]
