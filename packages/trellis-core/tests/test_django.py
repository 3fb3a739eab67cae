from __future__ import annotations

import re

import pytest

FAILING = """
from trellis.core import HealthCheck, HealthResult, hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1,<2"}

@hookimpl
def core_health_checks():
    return [HealthCheck("disk", lambda: HealthResult("fail", "disk full", {"free_bytes": 0}))]
"""


@pytest.mark.django_db
def test_health_endpoint_reports_every_check(admin_client):
    response = admin_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {c["name"] for c in body["checks"]} >= {"plugins", "database"}
    database = next(c for c in body["checks"] if c["name"] == "database")
    assert database["message"] == "default: sqlite"
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_failing_check_turns_health_503(admin_client, trellis_register, make_module):
    trellis_register(make_module(FAILING), "disk")
    response = admin_client.get("/health")
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


@pytest.mark.django_db
def test_health_only_and_unknown_check(admin_client):
    response = admin_client.get("/health", {"only": "plugins"})
    assert [c["name"] for c in response.json()["checks"]] == ["plugins"]
    missing = admin_client.get("/health", {"only": "nope"})
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_check"
    assert missing.json()["field"] == "only"
    assert "plugins" in missing.json()["message"]


@pytest.mark.parametrize("path", ["/health", "/health/live", "/health/ready"])
def test_health_refuses_writes(client, path):
    assert client.post(path).status_code == 405


@pytest.mark.django_db
def test_dashboard_shows_plugins_hooks_and_health(admin_client, trellis_register, make_module):
    trellis_register(
        make_module(
            "TRELLIS_IMPLEMENTS = {'core': '>=7'}\n"
            "from trellis.core import hookimpl\n"
            "@hookimpl\ndef core_django_apps():\n    return []\n"
        ),
        "old",
    )
    page = admin_client.get("/").content.decode()
    for text in (
        "trellis-core",
        "core_django_apps() -&gt; Sequence[str]",
        "quarantined",
        "installed contract &#x27;core&#x27; is version 1.2.0",
        "Health",
        "database",
    ):
        assert text in page, text


@pytest.mark.parametrize(
    ("hook", "value", "message"),
    [
        ("core_django_apps", "[3]", "core_django_apps returned 3 in its list; expected dotted"),
        ("core_django_apps", "['not a path']", "returned 'not a path' in its list"),
        ("core_settings_defaults", "{'lower': 1}", "Django setting names are upper case"),
        ("core_django_middleware", "1/0", "core_django_middleware raised ZeroDivisionError"),
        ("core_settings_defaults", "['DEBUG']", "expected a mapping of setting names"),
        ("core_django_apps", "'shop'", "core_django_apps returned 'shop'; expected a list"),
        ("core_url_mounts", "[UrlMount('badprefix', 'x.urls')]", "URL prefix 'badprefix' is"),
        ("core_url_mounts", "['blobs/']", "returned 'blobs/' in its list; expected trellis"),
        ("core_url_mounts", "UrlMount('a/', 'x.urls')", "expected a list of trellis.core.Url"),
    ],
)
def test_compose_quarantines_a_plugin_with_malformed_contributions(
    make_module, hook, value, message
):
    from django.core.exceptions import ImproperlyConfigured

    from trellis.core import get_host, set_host
    from trellis.core.django import compose

    source = (
        "from trellis.core import UrlMount, hookimpl\nTRELLIS_IMPLEMENTS = {'core': '>=1,<2'}\n"
        "@hookimpl\ndef core_settings_defaults():\n    return {'BAD_PLUGIN_SETTING': 1}\n"
        f"@hookimpl\ndef {hook}():\n    return {value}\n"
    )
    previous = get_host()
    try:
        namespace: dict[str, object] = {"TRELLIS": {"ALLOW": ["bad"]}}
        host = compose(namespace, plugins=[make_module(source, "bad")])
        record = {r.name: r for r in host.plugins()}["bad"]
        assert record.status == "quarantined"
        assert "failed while composing the service" in record.reason
        assert message in record.reason
        assert "BAD_PLUGIN_SETTING" not in namespace  # nothing of a failing plugin is used
        assert namespace["INSTALLED_APPS"] == ["trellis.core.django"]
        with pytest.raises(ImproperlyConfigured, match=f"(?s)strict mode.*{re.escape(message)}"):
            compose(
                {"TRELLIS": {"ALLOW": ["bad"], "STRICT": True}},
                plugins=[make_module(source, "bad")],
            )
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
        assert namespace["MIDDLEWARE"] == ["trellis.core.django.EdgeMiddleware", "shop.Middleware"]
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
