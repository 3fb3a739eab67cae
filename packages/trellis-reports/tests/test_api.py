"""The JSON/CSV API: permissions, filters, paging, CSV safety, caching by version."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from trellis.reports import report_define, report_rebuild
from trellis.reports.models import Report

from .conftest import VISITS, FakeForms, payload

pytestmark = pytest.mark.django_db
URL = "/a/demo/api/reports/visits/"


@pytest.fixture
def visits(reports_host: Any, forms: FakeForms) -> Report:
    report = report_define(domain="demo", slug="visits", title="Visits", **VISITS)
    for n, (village, size) in enumerate(
        [("north", 4), ("north", 5), ("south", 2), ("=HYPERLINK(1)", 1), ("-2+3", 1)]
    ):
        forms.deliver(payload("demo", f"s{n}", {"village": village, "household_size": size}))
    forms.deliver(payload("demo", "s9", {"village": "north"}, received_at="2026-01-12T08:00:00Z"))
    return report


@pytest.fixture
def member(forms: FakeForms) -> Client:
    mia = User.objects.create_user("mia")
    forms.viewers["demo"] = {"mia"}
    client = Client()
    client.force_login(mia)
    return client


def test_anonymous_requests_get_401_json(visits: Report) -> None:
    for url in (URL, "/a/demo/api/reports/"):
        response = Client().get(url)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Session")
        assert response.json()["code"] == "not_authenticated"
        assert "request_id" in response.json()


def test_non_members_cannot_tell_a_report_exists(visits: Report, forms: FakeForms) -> None:
    olaf = User.objects.create_user("olaf")
    client = Client()
    client.force_login(olaf)
    real = client.get(URL)
    unknown = client.get("/a/demo/api/reports/nothing/")
    assert real.status_code == unknown.status_code == 404
    assert real.json()["code"] == unknown.json()["code"] == "not_found"
    assert client.get("/a/demo/api/reports/").status_code == 404
    forms.viewers["demo"] = {"olaf"}
    forms.denied["demo"] = {"olaf"}
    assert client.get(URL).status_code == 404, "any False denies"


def test_a_raising_can_view_denies(
    visits: Report, forms: FakeForms, member: Client, caplog: Any
) -> None:
    assert member.get(URL).status_code == 200
    forms.broken = True
    assert member.get(URL).status_code == 404
    assert "failed in reports_can_view" in caplog.text


def test_staff_see_every_domain(visits: Report, admin_client: Client) -> None:
    response = admin_client.get(URL)
    assert response.status_code == 200


def test_members_read_rows_with_filters_and_paging(visits: Report, member: Client) -> None:
    body = member.get(URL).json()
    assert body["needs_rebuild"] is True
    assert [c["name"] for c in body["columns"]] == ["village", "week", "visits", "avg_size"]
    assert body["count"] == 5 and body["next"] is None
    assert body["rows"][:1] == [
        {"village": "-2+3", "week": "2026-01-05", "visits": 1, "avg_size": 1}
    ]
    north = member.get(URL, {"village": "north"}).json()
    assert [(r["week"], r["visits"], r["avg_size"]) for r in north["rows"]] == [
        ("2026-01-05", 2, 4.5),
        ("2026-01-12", 1, None),
    ]
    both = member.get(URL, {"village": ["north", "south"], "week": "2026-01-05"}).json()
    assert [r["village"] for r in both["rows"]] == ["north", "south"]
    page = member.get(URL, {"limit": 2}).json()
    assert len(page["rows"]) == 2 and page["count"] == 5
    assert page["next"] == "http://testserver/a/demo/api/reports/visits/?limit=2&offset=2"
    last = member.get(page["next"]).json()
    assert member.get(URL, {"limit": 2, "offset": 4}).json()["next"] is None
    assert [r["village"] for r in last["rows"]] == ["north", "north"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"format": "xml"}, "format"),
        ({"visits": "2"}, "visits"),
        ({"nope": "x"}, "nope"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(
    visits: Report, member: Client, params: dict[str, str], field: str
) -> None:
    response = member.get(URL, params)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["code"] == "invalid_parameter"


def test_a_nul_in_a_filter_value_matches_nothing(visits: Report, member: Client) -> None:
    response = member.get(URL, {"village": "north\x00"})
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_other_methods_are_405(visits: Report, member: Client) -> None:
    response = member.post(URL, {})
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_csv_has_a_header_quoting_and_no_formulas(visits: Report, member: Client) -> None:
    response = member.get(URL, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["village", "week", "visits", "avg_size"]
    assert rows[1] == ["'-2+3", "2026-01-05", "1", "1"]
    assert ["'=HYPERLINK(1)", "2026-01-05", "1", "1"] in rows
    assert ["north", "2026-01-12", "1", ""] in rows
    assert len(rows) == 6, "every row, no paging by default"


def test_answers_are_cached_and_never_stale(
    visits: Report, member: Client, forms: FakeForms, django_assert_max_num_queries: Any
) -> None:
    first = member.get(URL).json()
    with django_assert_max_num_queries(4):  # session, user, report; no row query
        again = member.get(URL).json()
    assert again == first
    forms.deliver(payload("demo", "s20", {"village": "north", "household_size": 9}))
    fresh = member.get(URL, {"village": "north", "week": "2026-01-05"}).json()
    assert fresh["rows"][0]["visits"] == 3, "a new record bumps the version: a new key"
    report_rebuild(domain="demo", slug="visits")
    assert member.get(URL).json()["needs_rebuild"] is False


def test_the_list_shows_every_report_of_the_domain(visits: Report, member: Client) -> None:
    report_define(domain="other", slug="hidden", title="Hidden", **VISITS)
    body = member.get("/a/demo/api/reports/").json()
    assert [r["slug"] for r in body["results"]] == ["visits"]
    assert body["results"][0]["url"] == URL
    assert body["results"][0]["page"] == "/reports/demo/visits/"
    assert body["results"][0]["rows"] == 5


def test_query_time_does_not_depend_on_raw_records(visits: Report, member: Client) -> None:
    member.get(URL)  # warm
    timings = []
    for n in range(30):
        started = time.perf_counter()
        assert member.get(URL, {"limit": str(n % 5 + 1)}).status_code == 200
        timings.append(time.perf_counter() - started)
    timings.sort()
    assert timings[len(timings) // 2] < 0.05, timings


def test_the_openapi_part_documents_these_endpoints(reports_host: Any) -> None:
    [part] = [p for name, p in reports_host.collect_by_plugin("core_openapi") if name == "reports"]
    operation = part["paths"]["/a/{domain}/api/reports/{slug}/"]["get"]
    assert set(operation["responses"]) == {"200", "400", "401", "404"}
    assert {p["name"] for p in operation["parameters"]} == {
        "domain",
        "slug",
        "format",
        "limit",
        "offset",
    }
    assert json.dumps(part)  # plain JSON
    schemas = part["components"]["schemas"]
    assert {"ReportResult", "ReportList", "ReportsError"} <= set(schemas)
