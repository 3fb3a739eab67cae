"""Entry-point discovery with real plugin distributions installed into a throwaway venv.

Four tiny hatchling projects (a good plugin, one that fails at import, one declaring the wrong
``core`` range and one with a misspelled hook) are built and installed once per module into an
overlay venv; the tests run the ``trellis`` command there as a subprocess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trellis.core.testing import (
    make_overlay_venv,
    pip_install,
    run_trellis,
    write_plugin_project,
)


@dataclass(frozen=True)
class Dist:
    name: str  # entry-point (plugin) name
    dist: str
    version: str
    module: str
    source: str


GOOD = Dist(
    "tt_good",
    "tt-good-plugin",
    "1.2.3",
    "tt_good_plugin",
    """
    from trellis.core import HealthCheck, HealthResult, hookimpl

    TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2"}

    @hookimpl
    def core_health_checks():
        return [HealthCheck("tt-good", lambda: HealthResult("ok", "fine"))]

    @hookimpl
    def core_settings_defaults():
        return {"TT_GOOD_GREETING": "hello"}
    """,
)
BROKEN = Dist(
    "tt_broken",
    "tt-broken-plugin",
    "0.1.0",
    "tt_broken_plugin",
    """
    from trellis.core import hookimpl

    TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2"}

    raise RuntimeError("tt-broken cannot start: FROBNICATOR_URL is not set")
    """,
)
WRONG_CONTRACT = Dist(
    "tt_wrong_contract",
    "tt-wrong-contract",
    "2.0.1",
    "tt_wrong_contract",
    """
    from trellis.core import hookimpl

    TRELLIS_IMPLEMENTS = {"core": ">=2,<3"}

    @hookimpl
    def core_django_apps():
        return ["tt_wrong_contract"]
    """,
)
MISSPELLED = Dist(
    "tt_misspelled",
    "tt-misspelled-hook",
    "0.4.0",
    "tt_misspelled_hook",
    """
    from trellis.core import hookimpl

    TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2"}

    @hookimpl
    def core_django_app():
        return ["tt_misspelled_hook"]
    """,
)
BAD = (BROKEN, WRONG_CONTRACT, MISSPELLED)
ALL = (GOOD, *BAD)

Records = dict[str, dict[str, Any]]
"""``trellis plugins --json`` output by plugin name."""


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An overlay venv with all four plugin distributions installed (built once per module)."""
    root = tmp_path_factory.mktemp("entry_points")
    projects = [
        write_plugin_project(
            root / d.dist,
            d.dist,
            d.source,
            {d.name: d.module},
            module=d.module,
            version=d.version,
        )
        for d in ALL
    ]
    python = make_overlay_venv(root / "venv")
    pip_install(python, *projects)
    return python


def _json(python: Path, command: str, env: dict[str, str] | None = None) -> Any:
    result = run_trellis(python, command, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def plugins(venv_python: Path) -> Records:
    """``trellis plugins --json`` in the venv, by plugin name."""
    return {record["name"]: record for record in _json(venv_python, "plugins")}


def test_all_installed_plugins_are_discovered_with_their_distribution(plugins: Records) -> None:
    assert plugins["core"]["status"] == "active"
    assert plugins["core"]["builtin"] is True
    for d in ALL:
        record = plugins[d.name]
        assert (record["distribution"], record["version"]) == (d.dist, d.version)
        assert record["module"] == d.module
        assert record["builtin"] is False


def test_good_plugin_is_active(plugins: Records) -> None:
    record = plugins[GOOD.name]
    assert record["status"] == "active", record["reason"]
    assert record["reason"] == ""
    assert record["implements"] == {"core": ">=1.0,<2"}
    assert record["hooks"] == ["core_health_checks", "core_settings_defaults"]


def test_broken_import_is_quarantined_with_exception_type_and_message(plugins: Records) -> None:
    record = plugins[BROKEN.name]
    assert record["status"] == "quarantined"
    assert record["reason"] == (
        "import failed: RuntimeError: tt-broken cannot start: FROBNICATOR_URL is not set"
    )


def test_wrong_contract_reason_names_plugin_dist_contract_and_versions(plugins: Records) -> None:
    record = plugins[WRONG_CONTRACT.name]
    assert record["status"] == "quarantined"
    reason = record["reason"]
    assert "plugin 'tt_wrong_contract' (tt-wrong-contract 2.0.1)" in reason
    assert "contract 'core'" in reason
    assert "'>=2,<3'" in reason
    assert "version 1.2.0" in reason
    assert record["implements"] == {"core": ">=2,<3"}
    assert record["hooks"] == []


def test_misspelled_hook_is_quarantined_with_a_suggestion(plugins: Records) -> None:
    record = plugins[MISSPELLED.name]
    assert record["status"] == "quarantined"
    assert "'core_django_app'" in record["reason"]
    assert "did you mean 'core_django_apps'?" in record["reason"]


def test_good_plugin_hooks_are_listed_as_implementers(venv_python: Path) -> None:
    hooks = {h["name"]: h for h in _json(venv_python, "hooks")}
    implementers = {i["plugin"]: i for i in hooks["core_health_checks"]["implementers"]}
    assert {"core", GOOD.name} <= set(implementers)  # plus any installed subsystem
    assert implementers[GOOD.name]["function"] == "core_health_checks"
    assert implementers[GOOD.name]["wrapper"] is False
    assert GOOD.name in [i["plugin"] for i in hooks["core_settings_defaults"]["implementers"]]
    for d in BAD:  # nothing of a quarantined plugin is registered
        assert all(
            d.name not in [i["plugin"] for i in hook["implementers"]] for hook in hooks.values()
        )
    assert "core_django_app" not in hooks


def test_plugins_table_shows_distribution_version_and_status(venv_python: Path) -> None:
    result = run_trellis(venv_python, "plugins")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows[GOOD.name][1:5] == [GOOD.dist, GOOD.version, "core", ">=1.0,<2"]
    assert rows[GOOD.name][5:7] == ["-", "active"]  # provides nothing
    for d in BAD:
        assert "quarantined" in rows[d.name]


def test_check_fails_listing_every_quarantined_plugin(venv_python: Path) -> None:
    result = run_trellis(venv_python, "check")
    assert result.returncode == 1, result.stdout
    errors = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, result.stdout
    for d in BAD:
        assert any(line.startswith(f"error: plugin {d.name!r} is quarantined: ") for line in errors)
    assert GOOD.name not in result.stdout
    assert "3 problem(s) found" in result.stdout


def test_denied_plugins_are_disabled_and_check_passes(venv_python: Path) -> None:
    env = {"TRELLIS_PLUGINS_DENY": ",".join(d.name for d in BAD)}
    records = {r["name"]: r for r in _json(venv_python, "plugins", env)}
    for d in BAD:
        assert records[d.name]["status"] == "disabled"
        assert "TRELLIS_PLUGINS_DENY" in records[d.name]["reason"]
        assert records[d.name]["distribution"] == d.dist
    assert records[GOOD.name]["status"] == "active"
    result = run_trellis(venv_python, "check", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: ")


def test_strict_mode_refuses_to_start_listing_quarantined_plugins(venv_python: Path) -> None:
    result = run_trellis(venv_python, "plugins", "--json", env={"TRELLIS_STRICT": "1"})
    assert result.returncode != 0
    assert result.stdout == ""
    assert "strict mode" in result.stderr
    listed = re.findall(r"^  - (\w+): (.+)$", result.stderr, flags=re.M)
    assert sorted(name for name, _ in listed) == sorted(d.name for d in BAD)
    assert dict(listed)[BROKEN.name].startswith("import failed: RuntimeError: ")
    assert "Traceback" not in result.stderr


def test_strict_mode_with_bad_plugins_denied_starts(venv_python: Path) -> None:
    env = {"TRELLIS_STRICT": "1", "TRELLIS_PLUGINS_DENY": ",".join(d.name for d in BAD)}
    result = run_trellis(venv_python, "check", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
