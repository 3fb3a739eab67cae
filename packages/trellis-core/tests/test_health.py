from __future__ import annotations

import pytest

from trellis.core import HealthCheck, HealthResult, TrellisError, run_health_checks

CHECKS = """
from trellis.core import HealthCheck, HealthResult, hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1,<2"}

def broken():
    raise ConnectionError("redis at 127.0.0.1:6379 refused the connection")

@hookimpl
def core_health_checks():
    slow = HealthResult("warn", "slow")
    return [HealthCheck("cache", broken), HealthCheck("queue", lambda: slow)]
"""


def test_report_runs_every_check_and_keeps_the_worst_status(trellis_host, make_module):
    trellis_host.register(make_module(CHECKS), "checks")
    report = run_health_checks(trellis_host)
    by_name = {c.name: c for c in report.checks}
    assert report.status == "fail"
    assert by_name["cache"].status == "fail"
    assert by_name["cache"].message == (
        "ConnectionError: redis at 127.0.0.1:6379 refused the connection"
    )
    assert (by_name["queue"].status, by_name["queue"].plugin) == ("warn", "checks")
    assert by_name["plugins"].status == "ok"
    assert all(c.duration_ms >= 0 for c in report.checks)


def test_only_runs_one_check_and_unknown_names_are_listed(trellis_host, make_module):
    trellis_host.register(make_module(CHECKS), "checks")
    report = run_health_checks(trellis_host, only="queue")
    assert [c.name for c in report.checks] == ["queue"]
    assert report.status == "warn"
    with pytest.raises(TrellisError, match=r"no health check named 'nope'; checks: cache, "):
        run_health_checks(trellis_host, only="nope")


def test_quarantined_plugins_turn_the_plugins_check_to_warn(trellis_host, make_module):
    trellis_host.register(make_module("TRELLIS_IMPLEMENTS = 3"), "bad")
    report = run_health_checks(trellis_host, only="plugins")
    assert report.status == "warn"
    assert "bad" in report.checks[0].details["quarantined"]


def test_duplicate_check_names_fail(trellis_host, make_module):
    trellis_host.register(make_module(CHECKS), "one")
    trellis_host.register(make_module(CHECKS), "two")
    dupes = [c for c in run_health_checks(trellis_host).checks if c.plugin == "two"]
    assert all(c.status == "fail" and "duplicate" in c.message for c in dupes)


def test_check_names_are_validated():
    with pytest.raises(TrellisError, match="health check name 'Bad Name'"):
        HealthCheck("Bad Name", lambda: None)
    assert HealthResult().status == "ok"


def test_a_plugin_whose_check_list_fails_is_reported_not_raised(trellis_host, make_module):
    trellis_host.register(
        make_module(
            "from trellis.core import hookimpl\nTRELLIS_IMPLEMENTS = {'core': '>=1,<2'}\n"
            "@hookimpl\ndef core_health_checks():\n    raise RuntimeError('no config')\n"
        ),
        "flaky",
    )
    report = run_health_checks(trellis_host)
    [outcome] = [c for c in report.checks if c.plugin == "flaky"]
    assert outcome.status == "fail"
    assert outcome.name == "flaky"
    assert "core_health_checks" in outcome.message
    assert "RuntimeError: no config" in outcome.message


def test_failing_plugin_with_an_unusual_name_still_gets_a_check(trellis_host, make_module):
    trellis_host.register(
        make_module(
            "from trellis.core import hookimpl\nTRELLIS_IMPLEMENTS = {'core': '>=1,<2'}\n"
            "@hookimpl\ndef core_health_checks():\n    raise RuntimeError('boom')\n"
        ),
        "Shop Plugin",
    )
    [outcome] = [c for c in run_health_checks(trellis_host).checks if c.plugin == "Shop Plugin"]
    assert (outcome.name, outcome.status) == ("shop-plugin", "fail")
