"""One test per core hook (the docs test checks that every hook has a ``test_hook_<name>``)."""

from __future__ import annotations

import pytest

from trellis.core import DashboardPanel, UrlMount, run_health_checks

PLUGIN = """
from trellis.core import HealthCheck, UrlMount, hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2"}

@hookimpl
def core_django_apps():
    return ["shop"]

@hookimpl
def core_django_middleware():
    return ["shop.middleware.Audit"]

@hookimpl
def core_settings_defaults():
    return {"SHOP_CURRENCY": "EUR"}

@hookimpl
def core_url_mounts():
    return [UrlMount("shop/", "shop.urls", "shop")]

@hookimpl
def core_health_checks():
    return [HealthCheck("shop", lambda: None)]
"""


@pytest.fixture
def host(trellis_host, make_module):
    trellis_host.register(make_module(PLUGIN), "shop")
    return trellis_host


def test_hook_core_django_apps(host):
    assert dict(host.collect_by_plugin("core_django_apps")) == {
        "core": ["trellis.core.django"],
        "shop": ["shop"],
    }


def test_hook_core_django_middleware(host):
    assert host.collect_by_plugin("core_django_middleware") == [
        ("core", ["trellis.core.django.EdgeMiddleware"]),
        ("shop", ["shop.middleware.Audit"]),
    ]


def test_hook_core_settings_defaults(host):
    assert host.collect_by_plugin("core_settings_defaults") == [("shop", {"SHOP_CURRENCY": "EUR"})]


def test_hook_core_url_mounts(host):
    mounts = dict(host.collect_by_plugin("core_url_mounts"))
    assert mounts["shop"] == [UrlMount("shop/", "shop.urls", "shop")]
    assert mounts["core"] == [UrlMount("", "trellis.core.django.urls", "trellis")]
    with pytest.raises(Exception, match="URL prefix '/shop'"):
        UrlMount("/shop", "shop.urls")


def test_hook_core_health_checks(host):
    report = run_health_checks(host, only="shop")
    assert [(c.name, c.plugin, c.status) for c in report.checks] == [("shop", "shop", "ok")]


PANELS = """
from trellis.core import DashboardPanel, hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1.1,<2"}

@hookimpl
def core_dashboard_panels():
    return [DashboardPanel("shop.orders", "Orders", ["Shop", "Pending"], lambda: [("a", 3)])]
"""


def test_hook_core_dashboard_panels(trellis_host, make_module):
    trellis_host.register(make_module(PANELS), "shop")
    [(plugin, panels)] = trellis_host.collect_by_plugin("core_dashboard_panels")
    assert plugin == "shop"
    assert [(p.name, list(p.rows())) for p in panels] == [("shop.orders", [("a", 3)])]
    with pytest.raises(Exception, match="dashboard panel name 'Shop Orders' is invalid"):
        DashboardPanel("Shop Orders", "Orders", ["Shop"], list)
    with pytest.raises(Exception, match="columns must be a sequence of strings"):
        DashboardPanel("shop", "Orders", "Shop", list)


OPENAPI = """
from trellis.core import hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1.2,<2"}

@hookimpl
def core_openapi():
    return {"paths": {"/shop/orders/": {"get": {"responses": {"200": {"description": "ok"}}}}}}
"""


def test_hook_core_openapi(trellis_host, make_module):
    trellis_host.register(make_module(OPENAPI), "shop")
    parts = dict(trellis_host.collect_by_plugin("core_openapi"))
    assert parts["shop"] == {
        "paths": {"/shop/orders/": {"get": {"responses": {"200": {"description": "ok"}}}}}
    }
    assert "/health/live" in parts["core"]["paths"]  # core describes its own probes
