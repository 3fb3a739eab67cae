"""What the plugin adds to the service: processor, health check, dashboard panel, checks, admin."""

from __future__ import annotations

from typing import Any

import pytest

from trellis.core import Link
from trellis.events.models import DeadLetter
from trellis.reports import plugin, report_define, report_rebuild
from trellis.reports._checks import check_sources

from .conftest import TOPIC, VISITS, FakeForms, payload

pytestmark = pytest.mark.django_db


def test_no_processor_without_a_source(trellis_host: Any) -> None:
    from trellis.core import _global, set_host

    previous = _global._host
    set_host(trellis_host)
    try:
        assert plugin.events_processors() == []
        assert plugin.freshness().status == "ok"
    finally:
        set_host(previous)


def test_freshness_warns_until_rebuilt_and_on_lag(
    reports_host: Any, forms: FakeForms, monkeypatch: Any
) -> None:
    assert plugin.freshness().status == "ok"
    report_define(domain="demo", slug="visits", title="Visits", **VISITS)
    result = plugin.freshness()
    assert result.status == "warn"
    assert "1 report(s) need a rebuild (demo/visits)" in result.message
    report_rebuild(domain="demo", slug="visits")
    assert plugin.freshness().status == "ok"
    from trellis.events.models import OutboxEvent

    for n in range(3):  # written without publish(): nothing processed them yet
        OutboxEvent.objects.create(topic=TOPIC, key=f"k{n}", payload="{}")
    monkeypatch.setenv("TRELLIS_REPORTS_LAG_WARNING", "2")
    lagging = plugin.freshness()
    assert lagging.status == "warn" and "lags by 3 events (> 2)" in lagging.message
    monkeypatch.setenv("TRELLIS_REPORTS_LAG_WARNING", "5")
    DeadLetter.objects.create(
        processor="reports",
        event_id=1,
        topic=TOPIC,
        key="k",
        payload="{}",
        published_at="2026-01-01T00:00:00Z",
        error="boom",
    )
    assert "1 dead letter(s)" in plugin.freshness().message


def test_dashboard_panel_links_each_report(reports_host: Any, forms: FakeForms) -> None:
    report_define(domain="demo", slug="visits", title="Visits", **VISITS)
    forms.deliver(payload("demo", "s1", {"village": "north"}))
    [panel] = plugin.core_dashboard_panels()
    assert panel.title == "Reports"
    [row] = list(panel.rows())
    assert row == (Link("Visits", "/reports/demo/visits/"), "demo", 1, 1, "yes")


def test_the_dashboard_renders_the_panel(reports_host: Any, admin_client: Any) -> None:
    report_define(domain="demo", slug="visits", title="Visits <b>", **VISITS)
    html = admin_client.get("/").content.decode()
    assert '<a href="/reports/demo/visits/">Visits &lt;b&gt;</a>' in html, "the title links"


def test_checks_name_broken_sources_and_undeclared_topics(
    reports_host: Any, trellis_register: Any
) -> None:
    from trellis.core import hookimpl
    from trellis.reports import Source

    assert check_sources() == []

    class Odd:
        TRELLIS_IMPLEMENTS = {"reports": ">=1.0,<2"}

        @hookimpl
        def reports_sources(self) -> list[Source]:
            return [Source("case.changed", "change_id", lambda domain: [])]

    class Broken:
        TRELLIS_IMPLEMENTS = {"reports": ">=1.0,<2"}

        @hookimpl
        def reports_sources(self) -> list[Source]:
            raise RuntimeError("cannot list")

    trellis_register(Odd(), "odd", host=reports_host)
    trellis_register(Broken(), "broken", host=reports_host)
    found = {m.id: m.msg for m in check_sources()}
    assert "RuntimeError: cannot list" in found["trellis_reports.E001"]
    assert "'case.changed' is not a declared events topic" in found["trellis_reports.W001"]


def test_admin_rebuild_action(reports_host: Any, forms: FakeForms, admin_client: Any) -> None:
    report = report_define(domain="demo", slug="visits", title="Visits", **VISITS)
    forms.records.append(payload("demo", "s1", {"village": "north"}))
    response = admin_client.post(
        "/admin/trellis_reports/report/",
        {"action": "rebuild", "_selected_action": [report.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "Rebuilt demo/visits: 1 record(s) in 1 row(s)." in html, html[html.find("<main") :][
        :3000
    ]
    report.refresh_from_db()
    assert not report.needs_rebuild
