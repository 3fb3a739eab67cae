from __future__ import annotations

import json

import pytest

from trellis.core import get_host, set_host
from trellis.core._cli import main
from trellis.core.testing import isolated_host


@pytest.fixture
def cli_host(kv, make_module, monkeypatch):
    """A host of kv plugins, without the test project's settings (a plain environment)."""
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    previous = get_host()
    host = isolated_host(kv("memory"), kv("redis"), providers={"kv": "redis"})
    set_host(host)
    yield host
    set_host(previous)


def test_plugins_table_and_json(cli_host, capsys):
    assert main(["plugins"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == [
        "NAME",
        "DISTRIBUTION",
        "VERSION",
        "CONTRACTS",
        "PROVIDES",
        "STATUS",
        "REASON",
    ]
    assert "kv_redis" in table
    row = next(line for line in table.splitlines() if line.startswith("kv_redis "))
    assert "kv:redis" in row.split()
    assert main(["plugins", "--json"]) == 0
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["kv_redis"]["provides"] == {"kv": "redis"}
    assert records["kv_redis"]["implements"] == {"kv": ">=1.0,<2"}
    assert records["core"]["status"] == "active"


def test_hooks_lists_implementers_in_call_order(cli_host, capsys):
    assert main(["hooks", "--json"]) == 0
    hooks = {h["name"]: h for h in json.loads(capsys.readouterr().out)}
    assert hooks["kv_get"]["kind"] == "provider"
    assert [i["plugin"] for i in hooks["kv_get"]["implementers"]] == ["kv_redis", "kv_memory"]
    assert main(["hooks"]) == 0
    assert "kv_redis*, kv_memory" in capsys.readouterr().out


def test_check_passes_then_fails_on_a_quarantined_plugin(cli_host, make_module, capsys):
    assert main(["check"]) == 0
    assert capsys.readouterr().out.startswith("ok: 3 plugin(s) active, 2 contract(s)")
    cli_host.register(make_module("TRELLIS_IMPLEMENTS = 'core'"), "broken")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "error: plugin 'broken' is quarantined: TRELLIS_IMPLEMENTS must map" in out
    assert "1 problem(s) found" in out


def test_check_fails_on_an_unselected_provider(kv, capsys):
    previous = get_host()
    set_host(isolated_host(kv("memory"), kv("redis")))
    try:
        assert main(["check"]) == 1
        assert "no provider selected for contract 'kv'" in capsys.readouterr().out
    finally:
        set_host(previous)


def test_configuration_errors_exit_1_with_the_message(monkeypatch, capsys):
    previous = get_host()
    set_host(None)
    monkeypatch.setenv("TRELLIS_STRICT", "perhaps")
    try:
        assert main(["check"]) == 1
        assert "TRELLIS_STRICT must be a boolean" in capsys.readouterr().err
    finally:
        set_host(previous)


def test_django_settings_module_applies_its_trellis_setting(tmp_path):
    import os
    import subprocess
    import sys

    pytest.importorskip("django", reason="install trellis-core[django] to run the Django tests")
    (tmp_path / "cli_settings.py").write_text(
        "from trellis.core.django import compose\n"
        "SECRET_KEY = 'cli-test'\nINSTALLED_APPS = []\n"
        "TRELLIS = {'DENY': ['core']}\ncompose(globals())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    env.update(DJANGO_SETTINGS_MODULE="cli_settings", PYTHONPATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "trellis.core", "plugins", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    records = {r["name"]: r for r in json.loads(result.stdout)}
    assert records["core"]["status"] == "disabled"
    env["DJANGO_SETTINGS_MODULE"] = "missing_settings_module"
    failed = subprocess.run(
        [sys.executable, "-m", "trellis.core", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1
    assert "DJANGO_SETTINGS_MODULE='missing_settings_module' could not be loaded" in failed.stderr
    assert "Traceback" not in failed.stderr


BROKEN_MOUNT = """
from trellis.core import UrlMount, hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1,<2"}

@hookimpl
def core_django_apps():
    return ["badmount_app"]

@hookimpl
def core_url_mounts():
    return [UrlMount("badprefix", "badmount.urls")]
"""


def test_check_runs_composition_and_reports_what_the_service_would_quarantine(
    cli_host, make_module, capsys
):
    cli_host.register(make_module(BROKEN_MOUNT), "badmount")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert (
        "error: plugin 'badmount' is quarantined: failed while composing the service: "
        "core_url_mounts raised TrellisError: URL prefix 'badprefix' is invalid"
    ) in out
    assert main(["plugins"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "badmount" in line)
    assert "quarantined" in row


def test_check_runs_django_system_checks_of_the_settings_module(tmp_path):
    """What manage.py check reports, trellis check reports: errors fail it, warnings do not."""
    import os
    import subprocess
    import sys

    pytest.importorskip("django", reason="install trellis-core[django] to run the Django tests")
    (tmp_path / "checks_app.py").write_text(
        "from django.core import checks\n"
        "import os\n"
        "@checks.register\n"
        "def demo(app_configs, **kwargs):\n"
        "    level = os.environ['DEMO_LEVEL']\n"
        "    kind = checks.Error if level == 'error' else checks.Warning\n"
        "    return [kind('the demo store cannot work', hint='set DEMO', id='demo.X001')]\n"
    )
    (tmp_path / "checks_settings.py").write_text(
        "import checks_app\nSECRET_KEY = 'cli-test'\nINSTALLED_APPS = []\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    env.update(DJANGO_SETTINGS_MODULE="checks_settings", PYTHONPATH=str(tmp_path))

    def check(level: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trellis.core", "check"],
            env={**env, "DEMO_LEVEL": level},
            capture_output=True,
            text=True,
            timeout=60,
        )

    failed = check("error")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "error: demo.X001: the demo store cannot work (hint: set DEMO)" in failed.stdout
    warned = check("warning")
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "warning: demo.X001: the demo store cannot work" in warned.stdout
    assert "ok:" in warned.stdout
