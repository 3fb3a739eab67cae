"""Definition validation: every fault named by its path; report_define and the admin agree."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from trellis.reports import DefinitionError, report_define, validate_definition
from trellis.reports.models import Report

from .conftest import TOPIC, VISITS

TOPICS = {TOPIC}


def problems(definition: dict[str, Any]) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        validate_definition(definition, topics=TOPICS)
    return [str(p) for p in info.value.problems]


def changed(path: str, value: Any) -> dict[str, Any]:
    definition = copy.deepcopy(VISITS)
    target: Any = definition
    parts = re.findall(r"[a-z_]+|\[\d+\]", path)
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    last = parts[-1]
    if value is KeyError:
        del target[last]
    else:
        target[int(last[1:-1]) if last.startswith("[") else last] = value
    return definition


def test_the_spec_example_validates() -> None:
    parsed = validate_definition(VISITS, topics=TOPICS)
    assert parsed.aliases == ["village", "week", "visits", "avg_size"]
    assert parsed.group_by[1].truncate == "week"
    assert parsed.chart.type == "bar"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "group_by[1].truncate",
            "fortnight",
            "group_by[1].truncate: 'fortnight' is not one of day, week, month",
        ),
        ("filters[0].op", "like", "filters[0].op: 'like' is not one of eq, ne, in, lt, lte"),
        ("aggregates[1].fn", "median", "aggregates[1].fn: 'median' is not one of count, sum"),
        ("aggregates[1].field", "data..size", "aggregates[1].field: 'data..size' is not a field"),
        ("aggregates[1].field", KeyError, "aggregates[1].field: is required for fn 'avg'"),
        ("group_by[0].as", "Village", "group_by[0].as: 'Village' is not a column name"),
        ("aggregates[0].as", "village", "aggregates[0].as: 'village' is already the name of"),
        ("aggregates[0].as", "limit", "aggregates[0].as: 'limit' is reserved"),
        ("chart.x", "visits", "chart.x: 'visits' is not a group column"),
        ("chart.y", "week", "chart.y: 'week' is not an aggregate column"),
        ("chart.type", "pie", "chart.type: 'pie' is not one of bar, line"),
        ("chart.series", "visits", "chart.series: 'visits' is not a group column other than"),
        ("chart.series", "village", "chart.series: 'village' is not a group column other than"),
        ("source_topic", "case.changed", "source_topic: 'case.changed' has no report source"),
        ("aggregates", [], "aggregates: needs at least 1 entry"),
        ("filters[0].value", ["a"], "filters[0].value: must be a string, number, boolean"),
        ("group_by[0].colour", "red", "group_by[0].colour: unknown key"),
        ("aggregates", KeyError, "aggregates: is required"),
    ],
)
def test_faults_name_their_path(path: str, value: Any, expected: str) -> None:
    found = problems(changed(path, value))
    assert any(p.startswith(expected) for p in found), found


def test_every_fault_is_reported_at_once() -> None:
    definition = changed("group_by[1].truncate", "fortnight")
    definition["filters"][0]["op"] = "like"
    assert len(problems(definition)) == 2


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"field": "x", "op": "in", "value": []}, "must be a list of 1 to 100 values"),
        ({"field": "x", "op": "exists", "value": "yes"}, "must be true or false"),
        ({"field": "x", "op": "gt", "value": None}, "must be a number or a string"),
        ({"field": "x", "op": "eq"}, "is required for op 'eq'"),
        ("form=x", "must be an object"),
    ],
)
def test_filter_values_are_checked(fault: Any, expected: str) -> None:
    definition = copy.deepcopy(VISITS)
    definition["filters"] = [fault]
    found = problems(definition)
    assert any(p.startswith("filters[0]") and expected in p for p in found), found


def test_chart_defaults_to_the_first_columns() -> None:
    definition = copy.deepcopy(VISITS)
    del definition["chart"]
    chart = validate_definition(definition, topics=TOPICS).chart
    assert (chart.type, chart.x, chart.y) == ("bar", "village", "visits")


@pytest.mark.django_db
def test_define_validates_and_marks_changes_for_rebuild(reports_host: Any) -> None:
    fields = dict(VISITS)
    report = report_define(domain="demo", slug="visits", title="Visits", **fields)
    assert report.needs_rebuild and report.version == 1
    Report.objects.filter(pk=report.pk).update(needs_rebuild=False)
    same = report_define(domain="demo", slug="visits", title="Home visits", **fields)
    assert not same.needs_rebuild, "a new title keeps the numbers"
    assert same.version == 2
    fields["aggregates"] = [
        *VISITS["aggregates"],
        {"fn": "max", "field": "data.age", "as": "oldest"},
    ]
    again = report_define(domain="demo", slug="visits", title="Home visits", **fields)
    assert again.needs_rebuild and again.version == 3
    with pytest.raises(DefinitionError, match=r"slug: 'Visits!' is not a report slug"):
        report_define(domain="demo", slug="Visits!", title="x", **fields)
    with pytest.raises(DefinitionError, match=r"domain: '-demo' is not a domain name"):
        report_define(domain="-demo", slug="visits", title="x", **fields)
    with pytest.raises(DefinitionError, match=r"title: '' is not a title"):
        report_define(domain="demo", slug="visits", title="", **fields)


@pytest.mark.django_db
def test_the_admin_saves_through_the_same_validation(reports_host: Any, admin_client: Any) -> None:
    form = {
        "domain": "demo",
        "slug": "visits",
        "title": "Visits",
        "source_topic": TOPIC,
        "filters": "[]",
        "group_by": '[{"field": "received_at", "truncate": "fortnight", "as": "week"}]',
        "aggregates": '[{"fn": "count", "as": "visits"}]',
        "chart": "{}",
    }
    response = admin_client.post("/admin/trellis_reports/report/add/", form)
    assert response.status_code == 200
    assert "group_by[0].truncate: &#x27;fortnight&#x27; is not one of day, week, month" in (
        response.content.decode()
    )
    assert not Report.objects.exists()
    form["group_by"] = '[{"field": "received_at", "truncate": "week", "as": "week"}]'
    response = admin_client.post("/admin/trellis_reports/report/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    report = Report.objects.get()
    assert report.needs_rebuild
    assert report.chart == {"type": "bar", "x": "week", "y": "visits"}, "stored normalized"
