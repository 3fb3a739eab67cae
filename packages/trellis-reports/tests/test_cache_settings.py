"""The answer cache is an optimisation: a cache that fails, or settings naming one that does
not exist or a time no backend accepts, are caught by ``manage.py check`` and never turn a
report request into a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from trellis.reports import report_define
from trellis.reports._checks import check_sources
from trellis.reports.models import Report

from .conftest import VISITS, FakeForms, payload

pytestmark = pytest.mark.django_db
URL = "/a/demo/api/reports/visits/"


@pytest.fixture
def visits(reports_host: Any, forms: FakeForms) -> Report:
    report = report_define(domain="demo", slug="visits", title="Visits", **VISITS)
    forms.deliver(payload("demo", "s1", {"village": "north", "household_size": 4}))
    return report


class BrokenCache:
    """A cache whose server is down: every call raises, like a Redis connection error."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    set = get


def test_a_failing_cache_serves_uncached_answers(
    visits: Report, admin_client: Client, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from trellis.reports import views

    monkeypatch.setattr(views, "caches", {"default": BrokenCache()})
    for params in ({}, {"format": "csv"}):
        response = admin_client.get(URL, params)
        assert response.status_code == 200, response.content[:300]
    assert admin_client.get(URL).json()["rows"][0]["visits"] == 1
    assert "ConnectionError" in caplog.text


def test_an_unknown_cache_alias_is_a_check_error(visits: Report, settings: Any) -> None:
    settings.TRELLIS_REPORTS_CACHE = "nope"
    found = {m.id: m.msg for m in check_sources()}
    assert "TRELLIS_REPORTS_CACHE" in found.get("trellis_reports.E003", ""), found


def test_an_unknown_cache_alias_does_not_fail_requests(
    visits: Report, admin_client: Client, settings: Any
) -> None:
    settings.TRELLIS_REPORTS_CACHE = "nope"
    response = admin_client.get(URL)
    assert response.status_code == 200, response.content[:300]


@pytest.mark.parametrize("seconds", ["99999999999999999999", "31536001"])
def test_cache_seconds_beyond_a_year_are_a_check_error(
    visits: Report, settings: Any, seconds: str
) -> None:
    settings.TRELLIS_REPORTS_CACHE_SECONDS = seconds
    found = {m.id: m.msg for m in check_sources()}
    assert "TRELLIS_REPORTS_CACHE_SECONDS" in found.get("trellis_reports.E003", ""), found


def test_a_year_of_cache_seconds_is_fine(visits: Report, settings: Any) -> None:
    settings.TRELLIS_REPORTS_CACHE_SECONDS = "31536000"
    assert check_sources() == []
