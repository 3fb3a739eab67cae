"""The events plugin: dashboard panel, health check, admin, system checks, status selector."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import Client

from trellis.core import _global, hookimpl, run_health_checks, set_host
from trellis.core.testing import isolated_host
from trellis.events import UnknownProcessor, inline, plugin, publish
from trellis.events.selectors import processor_status

from ._plugin import ShopPlugin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop():  # type: ignore[no-untyped-def]
    shop = ShopPlugin()
    previous = _global._host
    set_host(isolated_host(plugin, inline, shop))
    yield shop
    set_host(previous)


def test_status_dashboard_and_health_show_lag_and_dead_letters(shop, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from trellis.events.models import OutboxEvent

    host = _global._host
    [panel] = host.collect("core_dashboard_panels")[-1]
    assert panel.title == "Event processors"
    assert list(panel.rows()) == [("shipping", "shop.order", "none yet", 0, 0)]
    [ok] = run_health_checks(host, only="events.processors").checks
    assert (ok.status, ok.message) == (
        "ok",
        "1 processor(s), no dead letters, lag 0 (warns above 1000)",
    )

    shop.fail = lambda event: event.payload.get("poison", False)
    publish(topic="shop.order", key="a", payload={"poison": True})
    publish(topic="shop.order", key="a", payload={})
    for _ in range(3):  # committed, but nobody drained them (a crash after commit)
        OutboxEvent.objects.create(topic="shop.order", key="b", payload="{}")
    [status] = processor_status()
    assert (status.name, status.checkpoints, status.lag, status.dead_letters) == (
        "shipping",
        {"all": 2},
        3,
        1,
    )
    assert list(panel.rows()) == [("shipping", "shop.order", "all@2", 3, 1)]
    monkeypatch.setenv("TRELLIS_EVENTS_LAG_WARNING", "2")
    report = run_health_checks(host, only="events.processors")
    assert report.status == "warn"
    [outcome] = report.checks
    assert "shipping: 1 dead letter(s)" in outcome.message
    assert "lag 3 > 2" in outcome.message
    with pytest.raises(UnknownProcessor, match=r"'nope'.*shipping"):
        processor_status("nope")


def test_admin_lists_dead_letters_and_outbox(shop, django_user_model) -> None:  # type: ignore[no-untyped-def]
    from trellis.events.models import DeadLetter

    shop.fail = lambda event: True
    publish(topic="shop.order", key="adm", payload={"n": 1})
    letter = DeadLetter.objects.get()
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("admin", "a@b.c", "pw"))
    assert client.get("/admin/trellis_events/deadletter/").status_code == 200
    assert client.get("/admin/trellis_events/outboxevent/").status_code == 200
    assert client.get("/admin/trellis_events/outboxevent/add/").status_code == 403
    dashboard = client.get("/").content.decode()
    assert "Event processors" in dashboard
    assert "shipping" in dashboard
    shop.fail = lambda event: False
    response = client.post(
        "/admin/trellis_events/deadletter/",
        {"action": "replay", "_selected_action": [letter.pk]},
    )
    assert response.status_code == 302
    assert not DeadLetter.objects.exists()


def test_system_checks_report_bad_settings(shop, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from trellis.events._checks import check_settings

    assert check_settings() == []
    monkeypatch.setenv("TRELLIS_EVENTS_PARTITIONS", "zero")
    [error] = check_settings()
    assert error.id == "trellis_events.E002"
    assert "TRELLIS_EVENTS_PARTITIONS must be an integer >= 1; found 'zero'" in error.msg
    assert isinstance(error, checks.Error)


def test_system_checks_say_so_when_the_events_plugin_is_not_loaded() -> None:
    from trellis.events._checks import check_settings

    previous = _global._host
    set_host(isolated_host())  # the app is installed, the events plugin denied or missing
    try:
        [error] = check_settings()
    finally:
        set_host(previous)
    assert error.id == "trellis_events.E004"
    assert "events" in error.msg


class _BrokenTopics:
    TRELLIS_IMPLEMENTS = {"events": ">=1.0,<2"}

    @hookimpl
    def events_topics(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("my topics hook is broken")


@pytest.mark.django_db(transaction=True)
def test_a_plugin_whose_topics_hook_fails_declares_nothing_and_check_names_it() -> None:
    from trellis.events import UnknownTopic
    from trellis.events._checks import check_settings
    from trellis.events.models import OutboxEvent

    shop = ShopPlugin()
    previous = _global._host
    set_host(isolated_host(plugin, inline, shop, _BrokenTopics()))
    try:
        errors = [e for e in check_settings() if e.id == "trellis_events.E001"]
        assert len(errors) == 1
        assert "events_topics() failed: RuntimeError: my topics hook is broken" in errors[0].msg
        publish(topic="shop.order", key="a", payload={})  # the other plugins' topics still work
        assert OutboxEvent.objects.count() == 1
        with pytest.raises(UnknownTopic):
            publish(topic="broken.topic", key="a", payload={})
    finally:
        set_host(previous)
