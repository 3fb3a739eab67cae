"""Hostile definitions are refused by validation (a DefinitionError naming the path), never by
the database: values JSON or PostgreSQL cannot store, and strings where lists belong."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from trellis.reports import DefinitionError, report_define, validate_definition
from trellis.reports.models import Report

from .conftest import TOPIC, VISITS


def problems(definition: dict[str, Any]) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        validate_definition(definition, topics={TOPIC})
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("fault", "path"),
    [
        ({"field": "x", "op": "gt", "value": float("nan")}, "filters[0].value"),
        ({"field": "x", "op": "eq", "value": float("inf")}, "filters[0].value"),
        ({"field": "x", "op": "ne", "value": float("-inf")}, "filters[0].value"),
        ({"field": "x", "op": "in", "value": [1, float("nan")]}, "filters[0].value[1]"),
        ({"field": "x", "op": "eq", "value": "a\x00b"}, "filters[0].value"),
        ({"field": "x", "op": "lt", "value": "\x00"}, "filters[0].value"),
        ({"field": "x", "op": "in", "value": ["ok", "a\x00"]}, "filters[0].value[1]"),
    ],
)
def test_filter_values_json_cannot_store_are_refused(fault: Any, path: str) -> None:
    definition = copy.deepcopy(VISITS)
    definition["filters"] = [fault]
    found = problems(definition)
    assert any(p.startswith(f"{path}:") for p in found), found


@pytest.mark.django_db
def test_define_refuses_nan_and_nul_without_touching_the_database(reports_host: Any) -> None:
    fields = dict(VISITS)
    fields["filters"] = [{"field": "data.size", "op": "gt", "value": float("nan")}]
    with pytest.raises(DefinitionError, match=r"filters\[0\]\.value"):
        report_define(domain="demo", slug="visits", title="Visits", **fields)
    with pytest.raises(DefinitionError, match=r"title: .* is not a title"):
        report_define(domain="demo", slug="visits", title="a\x00b", **dict(VISITS))
    assert not Report.objects.exists()


@pytest.mark.django_db
def test_the_admin_refuses_nan_in_a_filter(reports_host: Any, admin_client: Any) -> None:
    form = {
        "domain": "demo",
        "slug": "visits",
        "title": "Visits",
        "source_topic": TOPIC,
        "filters": '[{"field": "data.size", "op": "gt", "value": NaN}]',
        "group_by": "[]",
        "aggregates": '[{"fn": "count", "as": "visits"}]',
        "chart": "{}",
    }
    response = admin_client.post("/admin/trellis_reports/report/add/", form)
    assert response.status_code == 200
    assert "filters[0].value" in response.content.decode()
    assert not Report.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("part", ["filters", "group_by", "aggregates"])
def test_define_refuses_a_string_where_a_list_belongs(reports_host: Any, part: str) -> None:
    fields: dict[str, Any] = dict(VISITS)
    fields[part] = "count"
    with pytest.raises(DefinitionError) as info:
        report_define(domain="demo", slug="visits", title="Visits", **fields)
    found = [str(p) for p in info.value.problems]
    assert f"{part}: must be a list, got 'count'" in found, found
    assert not any(p.startswith(f"{part}[") for p in found), found
