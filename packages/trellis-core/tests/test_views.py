"""Who sees what at /health/live, /health/ready, /health and the dashboard, and what it costs."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.cache import cache
from django.test import Client

from trellis.core import HealthCheck, HealthResult, run_health_checks
from trellis.core._health import MemoryCache

TOKEN = "monitor-7Yb4Tc9Hd1Mf6Gj0Se5Ua-Oi2Qe8Wr4"

PROBES = """
from trellis.core import HealthCheck, HealthResult, hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1,<2"}

def deep_probe():
    RUNS.append(1)
    return HealthResult("ok", "probe written, read and deleted")

def leaky():
    raise ConnectionError("postgres://admin@db.internal:5432 refused")

@hookimpl
def core_health_checks():
    return [HealthCheck("probe", deep_probe, deep=True), HealthCheck("leaky", leaky)]
"""


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def runs(make_module, trellis_register):
    """How often the deep probe ran; registers a plugin with a deep and a leaky cheap check."""
    counter: list[int] = []
    trellis_register(make_module(PROBES, RUNS=counter), "probes")
    return counter


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("TRELLIS_MONITORING_TOKEN", TOKEN)
    return {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def test_liveness_is_anonymous_and_does_no_io(client):
    # No django_db mark: any database access (a session, a user, a check) raises here.
    response = client.get("/health/live")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert client.head("/health/live").status_code == 200


@pytest.mark.django_db
def test_readiness_tells_anonymous_callers_only_the_status(client, runs):
    response = client.get("/health/ready")
    assert (response.status_code, response.json()) == (503, {"status": "fail"})
    assert b"db.internal" not in response.content
    assert runs == []  # deep checks never run for readiness


@pytest.mark.django_db
def test_readiness_details_for_monitors_without_deep_checks(client, runs, token):
    report = client.get("/health/ready", **token).json()
    names = {c["name"] for c in report["checks"]}
    assert {"database", "leaky", "plugins"} <= names and "probe" not in names
    assert runs == []


@pytest.mark.django_db
def test_health_report_needs_staff_or_the_monitoring_token(client, django_user_model, token):
    anonymous = client.get("/health")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/health", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401
    user = django_user_model.objects.create_user("field-worker", password="pw-12345678")
    client.force_login(user)
    assert client.get("/health").json()["code"] == "permission_denied"
    assert Client().get("/health", **token).status_code == 200


@pytest.mark.django_db
def test_no_token_configured_means_no_token_accepted(client, monkeypatch):
    monkeypatch.delenv("TRELLIS_MONITORING_TOKEN", raising=False)
    assert client.get("/health", HTTP_AUTHORIZATION="Bearer ").status_code == 401


@pytest.mark.django_db
def test_a_flood_of_requests_runs_a_deep_check_once_per_interval(client, runs, token, settings):
    settings.TRELLIS_HEALTH_INTERVAL = 60
    for _ in range(1000):
        client.get("/health")  # anonymous: refused before any check runs
        client.get("/health/ready")
    assert runs == []
    monitor = Client(**token)
    for _ in range(1000):
        assert monitor.get("/health", {"only": "probe"}).status_code == 200
    assert len(runs) == 1
    probe = monitor.get("/health", {"only": "probe"}).json()["checks"][0]
    assert probe["status"] == "ok" and probe["details"]["age_s"] >= 0


@pytest.mark.django_db
def test_a_deep_check_runs_again_once_its_interval_passed(runs, token, settings):
    settings.TRELLIS_HEALTH_INTERVAL = 0.3
    monitor = Client(**token)
    monitor.get("/health", {"only": "probe"})
    monitor.get("/health", {"only": "probe"})
    assert len(runs) == 1
    time.sleep(0.35)
    monitor.get("/health", {"only": "probe"})
    assert len(runs) == 2


def test_concurrent_callers_elect_one_runner_and_the_others_see_pending(trellis_host):
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def slow() -> HealthResult:
        runs.append(1)
        started.set()
        release.wait(10)
        return HealthResult("ok", "done")

    class Plugin:
        TRELLIS_IMPLEMENTS = {"core": ">=1,<2"}

        @staticmethod
        def core_health_checks():
            return [HealthCheck("slow", slow, deep=True)]

    from trellis.core import hookimpl

    Plugin.core_health_checks = hookimpl(Plugin.core_health_checks)
    trellis_host.register(Plugin, "slow")
    shared = MemoryCache()
    first = threading.Thread(
        target=run_health_checks, args=(trellis_host, "slow"), kwargs={"cache": shared}
    )
    first.start()
    assert started.wait(10)
    others = [run_health_checks(trellis_host, "slow", cache=shared) for _ in range(20)]
    release.set()
    first.join(10)
    assert len(runs) == 1
    assert {o.checks[0].status for o in others} == {"warn"}
    assert "pending" in others[0].checks[0].message
    after = run_health_checks(trellis_host, "slow", cache=shared).checks[0]
    assert (after.status, after.message) == ("ok", "done")


@pytest.mark.django_db
def test_dashboard_is_for_monitors_only(client, django_user_model, token):
    anonymous = client.get("/")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/admin/login/?next=/"
    user = django_user_model.objects.create_user("field-worker", password="pw-12345678")
    client.force_login(user)
    assert client.get("/").status_code == 403
    assert Client().get("/", **token).status_code == 200


@pytest.mark.django_db
def test_staff_see_check_messages_on_the_dashboard(admin_client, runs):
    page = admin_client.get("/").content.decode()
    assert "probe written, read and deleted" in page
    assert "ConnectionError" in page


PANELS = """
from trellis.core import DashboardPanel, Link, hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1.2,<2"}

def broken_rows():
    raise ConnectionError("redis://127.0.0.1:6379 refused")

@hookimpl
def core_dashboard_panels():
    return [
        DashboardPanel("queues", "Task queues", ["Queue", "Age"],
                       lambda: [("blobs", "<b>3 s</b>"), ("forms", None)]),
        DashboardPanel("lag", "Processors", ["Name"], broken_rows),
        DashboardPanel("quiet", "Quiet", ["Name"], list, empty="No processors installed."),
        DashboardPanel("links", "Links", ["Report"],
                       lambda: [(Link("Visits <weekly>", "/reports/demo/visits/?a=1&b=2"),)]),
    ]
"""

BROKEN_PANELS = """
from trellis.core import hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1.1,<2"}

@hookimpl
def core_dashboard_panels():
    return ["not a panel"]
"""


@pytest.mark.django_db
def test_plugin_panels_render_and_their_failures_stay_in_their_panel(
    admin_client, make_module, trellis_register
):
    trellis_register(make_module(PANELS), "work")
    trellis_register(make_module(BROKEN_PANELS), "broken")
    response = admin_client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<section id="panel-queues"' in page and "Task queues" in page
    assert "&lt;b&gt;3 s&lt;/b&gt;" in page and "<b>3 s</b>" not in page  # escaped
    assert "could not be read: ConnectionError: redis://127.0.0.1:6379 refused" in page
    assert "No processors installed." in page
    assert '<a href="/reports/demo/visits/?a=1&amp;b=2">Visits &lt;weekly&gt;</a>' in page
    assert "core_dashboard_panels failed: TypeError: expected DashboardPanel objects" in page
    assert '<section id="plugins">' in page  # the rest of the dashboard still rendered


@pytest.mark.django_db
def test_health_errors_are_json_though_not_under_an_api_mount(admin_user, settings):
    settings.TRELLIS_HEALTH_INTERVAL = "soon"
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    response = client.get("/health")
    assert (response.status_code, response["Content-Type"]) == (500, "application/json")
    body = response.json()
    assert body["code"] == "server_error"
    assert "TRELLIS_HEALTH_INTERVAL must be a positive number of seconds" in body["message"]
    assert client.get("/health/nope").status_code == 404  # not an api path: Django's page


OPENAPI_PARTS = """
from trellis.core import hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1.2,<2"}

@hookimpl
def core_openapi():
    return {
        "paths": {"/a/{domain}/things/": {"get": {"responses": {"200": {"description": "ok"}}}},
                  "/health/live": {"get": {"responses": {"200": {"description": "mine"}}}}},
        "components": {"schemas": {"Thing": {"type": "object"}}},
    }
"""

BROKEN_OPENAPI = """
from trellis.core import hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1.2,<2"}

@hookimpl
def core_openapi():
    return {"paths": {"relative/": {}}}
"""


@pytest.mark.django_db
def test_openapi_document_merges_plugins_and_names_clashes_and_failures(
    client, admin_client, make_module, trellis_register
):
    trellis_register(make_module(OPENAPI_PARTS), "things")
    trellis_register(make_module(BROKEN_OPENAPI), "broken")
    anonymous = client.get("/api/openapi.json")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    document = admin_client.get("/api/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert document["paths"]["/a/{domain}/things/"]["get"]["responses"]["200"]
    assert document["components"]["schemas"]["Thing"] == {"type": "object"}
    # core's own /health/live (loaded first) wins; the clash is named, not hidden
    assert document["paths"]["/health/live"]["get"]["operationId"] == "core_health_live"
    assert document["x-trellis-conflicts"] == ["path '/health/live' from plugin 'things'"]
    assert "absolute paths" in document["x-trellis-errors"]["broken"]
    assert admin_client.post("/api/openapi.json").status_code == 405
