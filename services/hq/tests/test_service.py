"""The composed service, run as operators run it: a real process on a real port."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

MONITOR = {"Authorization": "Bearer hq-monitor-4Tc9Hd1Mf6Gj0Se5Ua-Oi2Qe8Wr4Ty7"}
PRODUCTION = {
    "TRELLIS_PROFILE": "production",
    "DJANGO_SECRET_KEY": "hq-test-7Yb4Tc9Hd1Mf6Gj0Se5Ua-Oi2Qe8Wr4Ty7Ui1Op3As6Df9GhZx",
    "DJANGO_ALLOWED_HOSTS": "hq.example.org",
}


def test_dashboard_is_the_home_page_for_monitors(embedded_server):
    status, body, headers = embedded_server.get("/", headers=MONITOR)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    for text in (
        "Embedded profile",
        "trellis-core",
        "core_health_checks",
        "database",
        'id="plugins"',
        'id="hooks"',
        'id="health"',
    ):
        assert text in body, text


def test_anonymous_visitors_are_sent_to_log_in(embedded_server):
    status, _, headers = embedded_server.get("/", follow=False)
    assert status == 302 and headers["Location"] == "/admin/login/?next=/"


def test_health_is_json_for_load_balancers_and_monitors(embedded_server):
    assert embedded_server.get("/health/live")[:2] == (200, '{"status": "ok"}')
    status, body, _ = embedded_server.get("/health/ready")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, body, _ = embedded_server.get("/health")
    assert status == 401 and json.loads(body)["code"] == "not_authenticated"
    status, body, _ = embedded_server.get("/health", headers=MONITOR)
    report = json.loads(body)
    assert status == 200 and report["status"] == "ok"
    checks = {c["name"]: c["status"] for c in report["checks"]}
    assert {"plugins", "database"} <= set(checks)  # plus those of installed subsystems
    assert set(checks.values()) == {"ok"}
    status, body, _ = embedded_server.get("/health?only=database", headers=MONITOR)
    assert [c["name"] for c in json.loads(body)["checks"]] == ["database"]


def test_admin_is_mounted(embedded_server):
    status, body, _ = embedded_server.get("/admin/login/")
    assert status == 200 and "Django administration" in body


def test_embedded_database_is_sqlite_in_wal_mode(embedded_server):
    data_dir = embedded_server.env["TRELLIS_DATA_DIR"]
    with sqlite3.connect(f"{data_dir}/db.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_demo_admin_prints_working_credentials(hq, tmp_path):
    env = hq.env(tmp_path)
    hq.manage(env, "migrate", "--no-input")
    first = hq.manage(env, "trellis_demo_admin").stdout
    match = re.search(r"demo admin created: username=(\S+) password=(\S+)", first)
    assert match, first
    script = (
        "import django; django.setup()\n"
        "from django.contrib.auth import authenticate\n"
        f"assert authenticate(username={match[1]!r}, password={match[2]!r}) is not None\n"
    )
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "DJANGO_SETTINGS_MODULE": "hq.settings"},
        check=True,
        timeout=60,
    )
    assert "demo admin reset" in hq.manage(env, "trellis_demo_admin").stdout


def test_production_profile_refuses_unsafe_settings(hq, tmp_path):
    result = hq.manage(hq.env(tmp_path, TRELLIS_PROFILE="production"), "check", check=False)
    assert result.returncode != 0
    assert "production profile refuses to start" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr and "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_production_profile_passes_check_deploy(hq, tmp_path):
    result = hq.manage(
        hq.env(tmp_path, **PRODUCTION), "check", "--deploy", "--fail-level", "WARNING", check=False
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert (
        hq.manage(hq.env(tmp_path, **PRODUCTION), "trellis_demo_admin", check=False).returncode != 0
    )


def test_bad_trellis_setting_stops_start_up_with_its_name(hq, tmp_path):
    bad = hq.manage(hq.env(tmp_path, TRELLIS_STRICT="definitely"), "check", check=False)
    assert bad.returncode != 0
    assert "TRELLIS_STRICT must be a boolean" in bad.stderr
    assert "found 'definitely'" in bad.stderr


@pytest.mark.postgres
def test_scaled_profile_runs_on_postgresql(hq, tmp_path, trellis_postgres_database):
    env = hq.env(
        tmp_path,
        DATABASE_URL=trellis_postgres_database,
        TRELLIS_MONITORING_TOKEN=MONITOR["Authorization"].removeprefix("Bearer "),
    )
    hq.manage(env, "migrate", "--no-input")
    server = hq.start(env)
    try:
        status, body, _ = server.get("/health?only=database", headers=MONITOR)
        assert status == 200
        assert json.loads(body)["checks"][0]["message"] == "default: postgresql"
        assert not (tmp_path / "db.sqlite3").exists()
    finally:
        hq.stop(server)


def test_a_flood_of_health_requests_writes_at_most_one_probe(hq, tmp_path):
    """1,000 anonymous /health and /health/ready requests, then 200 monitor ones: one probe."""
    env = hq.env(tmp_path, TRELLIS_MONITORING_TOKEN=MONITOR["Authorization"].split()[1])
    hq.manage(env, "migrate", "--no-input")
    embedded_server = hq.start(env)  # its own process: nothing cached yet
    try:
        _flood(embedded_server)
    finally:
        hq.stop(embedded_server)


def _flood(server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def anonymous(i: int) -> int:
        return server.get("/health" if i % 2 else "/health/ready")[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(anonymous, range(1000)))
    assert set(statuses) == {200, 401}, set(statuses)

    def blobs_check(_: int) -> dict:
        status, body, _headers = server.get("/health?only=blobs", headers=MONITOR)
        assert status == 200, body
        return json.loads(body)["checks"][0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        checks = list(pool.map(blobs_check, range(200)))
    # A run answers without age_s; every other answer is the cached result of that run. Had
    # an anonymous request run the probe, no monitor request would have run it.
    runs = [c for c in checks if "age_s" not in c["details"]]
    assert len(runs) == 1, runs
    assert all(c["status"] in {"ok", "warn"} for c in checks)
    assert sum(c["status"] == "ok" for c in checks) >= 1
