from __future__ import annotations

import pytest

FAILING = """
from trellis.core import HealthCheck, HealthResult, hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1,<2"}

@hookimpl
def core_health_checks():
    return [HealthCheck("disk", lambda: HealthResult("fail", "disk full", {"free_bytes": 0}))]
"""


@pytest.mark.django_db
def test_health_endpoint_reports_every_check(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {c["name"] for c in body["checks"]} >= {"plugins", "database"}
    database = next(c for c in body["checks"] if c["name"] == "database")
    assert database["message"] == "default: sqlite"
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_failing_check_turns_health_503(client, trellis_register, make_module):
    trellis_register(make_module(FAILING), "disk")
    response = client.get("/health")
    assert response.status_code == 503
    disk = next(c for c in response.json()["checks"] if c["name"] == "disk")
    assert disk == {
        "name": "disk",
        "plugin": "disk",
        "status": "fail",
        "message": "disk full",
        "duration_ms": disk["duration_ms"],
        "details": {"free_bytes": 0},
    }


def test_health_only_and_unknown_check(client):
    response = client.get("/health", {"only": "plugins"})
    assert [c["name"] for c in response.json()["checks"]] == ["plugins"]
    missing = client.get("/health", {"only": "nope"})
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_check"
    assert missing.json()["field"] == "only"
    assert "plugins" in missing.json()["message"]


def test_health_refuses_writes(client):
    assert client.post("/health").status_code == 405


@pytest.mark.django_db
def test_dashboard_shows_plugins_hooks_and_health(client, trellis_register, make_module):
    trellis_register(
        make_module(
            "TRELLIS_IMPLEMENTS = {'core': '>=7'}\n"
            "from trellis.core import hookimpl\n"
            "@hookimpl\ndef core_django_apps():\n    return []\n"
        ),
        "old",
    )
    page = client.get("/").content.decode()
    for text in (
        "trellis-core",
        "core_django_apps() -&gt; Sequence[str]",
        "quarantined",
        "installed contract &#x27;core&#x27; is version 1.0.0",
        "Health",
        "database",
    ):
        assert text in page, text


@pytest.mark.parametrize(
    ("hook", "value", "message"),
    [
        ("core_django_apps", "[3]", "returned 3 from core_django_apps; expected dotted paths"),
        ("core_settings_defaults", "{'lower': 1}", "Django setting names are upper case"),
        (
            "core_django_middleware",
            "1/0",
            "plugin 'bad' failed in core_django_middleware: ZeroDivisionError",
        ),
        ("core_settings_defaults", "['DEBUG']", "expected a mapping of setting names"),
        ("core_django_apps", "'shop'", "returned the string 'shop' from core_django_apps"),
    ],
)
def test_compose_rejects_malformed_contributions(make_module, hook, value, message):
    from django.core.exceptions import ImproperlyConfigured

    from trellis.core import get_host, set_host
    from trellis.core.django import compose

    plugin = make_module(
        "from trellis.core import hookimpl\nTRELLIS_IMPLEMENTS = {'core': '>=1,<2'}\n"
        f"@hookimpl\ndef {hook}():\n    return {value}\n",
        "bad",
    )
    previous = get_host()
    try:
        with pytest.raises(ImproperlyConfigured, match=message):
            compose({}, plugins=[plugin])
    finally:
        set_host(previous)


def test_compose_adds_apps_middleware_and_defaults_without_overriding(make_module):
    from trellis.core import get_host, set_host
    from trellis.core.django import compose

    source = (
        "from trellis.core import hookimpl\nTRELLIS_IMPLEMENTS = {'core': '>=1,<2'}\n"
        "@hookimpl\ndef core_django_apps():\n    return ['shop', 'django.contrib.auth']\n"
        "@hookimpl\ndef core_django_middleware():\n    return ['shop.Middleware']\n"
        "@hookimpl\ndef core_settings_defaults():\n    return {'SHOP_SIZE': 1, 'DEBUG': True}\n"
    )
    previous = get_host()
    try:
        # Only this test's plugin: subsystems installed in the environment would add theirs.
        namespace = {
            "INSTALLED_APPS": ["django.contrib.auth"],
            "DEBUG": False,
            "TRELLIS": {"ALLOW": ["shop_plugin"]},
        }
        host = compose(namespace, plugins=[make_module(source, "shop_plugin")])
        assert namespace["INSTALLED_APPS"] == ["django.contrib.auth", "trellis.core.django", "shop"]
        assert namespace["MIDDLEWARE"] == ["shop.Middleware"]
        assert (namespace["SHOP_SIZE"], namespace["DEBUG"]) == (1, False)
        assert get_host() is host

        other = source.replace("'SHOP_SIZE': 1", "'SHOP_SIZE': 2")
        chosen = {"SHOP_SIZE": 3}
        compose(chosen, plugins=[make_module(source, "shop_plugin"), make_module(other, "other")])
        assert chosen["SHOP_SIZE"] == 3
        with pytest.raises(
            Exception,
            match=r"'shop_plugin' and 'other' give different defaults "
            r"for SHOP_SIZE: 1 vs 2",
        ):
            compose({}, plugins=[make_module(source, "shop_plugin"), make_module(other, "other")])
    finally:
        set_host(previous)
