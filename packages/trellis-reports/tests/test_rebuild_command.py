"""``manage.py reports_rebuild`` when a source fails: a clear error naming the report (no
traceback), nothing half-written, and ``--all`` still rebuilds the other reports."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from trellis.reports import report_define, report_query
from trellis.reports.models import Report

from .conftest import VISITS, FakeForms, payload

pytestmark = pytest.mark.django_db


def define_two(forms: FakeForms) -> None:
    report_define(domain="demo", slug="visits", title="Visits", **VISITS)
    report_define(
        domain="demo",
        slug="everything",
        title="Everything",
        source_topic=VISITS["source_topic"],
        aggregates=[{"fn": "count", "as": "n"}],
    )
    forms.records.append(payload("demo", "s1", {"village": "north", "household_size": 2}))


def test_a_failing_source_is_a_command_error_and_changes_nothing(
    reports_host: Any, forms: FakeForms, monkeypatch: pytest.MonkeyPatch
) -> None:
    define_two(forms)
    call_command("reports_rebuild", "demo", "visits", "--quiet", stdout=io.StringIO())
    before = report_query(domain="demo", slug="visits").rows

    def broken(domain: str) -> Any:
        yield forms.records[0]
        raise RuntimeError("source broke halfway")

    monkeypatch.setattr(forms, "read", broken)
    with pytest.raises(CommandError, match=r"demo/visits.*RuntimeError: source broke halfway"):
        call_command("reports_rebuild", "demo", "visits", "--quiet", stdout=io.StringIO())
    assert report_query(domain="demo", slug="visits").rows == before


def test_all_rebuilds_the_others_and_names_each_failure(
    reports_host: Any, forms: FakeForms
) -> None:
    define_two(forms)
    Report.objects.filter(slug="everything").update(source_topic="case.changed")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"1 of 2 report\(s\) failed"):
        call_command("reports_rebuild", "--all", "--quiet", stdout=out, stderr=err)
    assert "rebuilt demo/visits: 1 of 1 record(s)" in out.getvalue()
    assert "demo/everything" in err.getvalue() and "case.changed" in err.getvalue()
    assert not Report.objects.get(slug="visits").needs_rebuild


def test_the_progress_rate_counts_from_the_start_of_each_report(
    reports_host: Any, forms: FakeForms
) -> None:
    define_two(forms)
    for n in range(1000):
        forms.records.append(payload("demo", f"r{n}", {"village": "north"}))
    err = io.StringIO()
    call_command("reports_rebuild", "demo", "visits", stdout=io.StringIO(), stderr=err)
    line = next(x for x in err.getvalue().splitlines() if "1,000 records read" in x)
    rate = int(line.rsplit("(", 1)[1].split("/s")[0].replace(",", ""))
    assert rate < 100_000_000, line


def test_the_admin_action_reports_a_failing_source(
    reports_host: Any, forms: FakeForms, admin_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    define_two(forms)

    def broken(domain: str) -> Any:
        raise RuntimeError("source broke halfway")

    monkeypatch.setattr(forms, "read", broken)
    pks = list(Report.objects.order_by("slug").values_list("pk", flat=True))
    response = admin_client.post(
        "/admin/trellis_reports/report/",
        {"action": "rebuild", "_selected_action": pks},
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "demo/visits" in html and "RuntimeError: source broke halfway" in html
    assert Report.objects.get(slug="visits").needs_rebuild, "nothing half-written"
