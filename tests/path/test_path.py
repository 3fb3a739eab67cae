"""The path for real: ``python -m tools.path`` runs the consumer at every stage.

It releases in a throwaway clone of HEAD, makes a venv per stage and runs the consumer's
suite and timing in each: about a minute and a half on a 2-core machine. Stages 1 to 3 need
only trellis-core and trellis-blobs; stage 4 needs trellis-remote and services/blobs in HEAD
(without them, the run must say so and fail, having run the others).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tools.path import PathError
from tools.path._proc import tool
from tools.path._release import committed
from tools.path._stages import STAGE_4_FILES

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("path_tools")]


@pytest.fixture(scope="module")
def path_tools() -> None:
    """uv, pypi-server, twine and towncrier (the release tools); skip locally, fail in CI."""
    try:
        for name in ("uv", "git", "pypi-server", "twine", "towncrier"):
            tool(name)
    except PathError as exc:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


def run_path(stages: str, output: Path) -> tuple[subprocess.CompletedProcess[str], Any]:
    result = subprocess.run(
        [sys.executable, "-m", "tools.path", "--stages", stages, "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    return result, json.loads(output.read_text())


def by_stage(data: Any) -> dict[str, Any]:
    return {record["stage"].split()[0]: record for record in data["stages"]}


def test_every_stage_runs_the_unchanged_consumer(tmp_path: Path):
    result, data = run_path("1,2,3,4", tmp_path / "path.json")
    shown = result.stdout + result.stderr[-6000:]
    stages = by_stage(data)
    assert list(stages) == ["1", "2a", "2b", "3", "4"], shown
    assert data["consumer"]["identical"] is True, shown
    assert data["consumer"]["files"] >= 8
    missing = [rel for rel in STAGE_4_FILES if not committed(ROOT, rel)]
    for name, record in stages.items():
        if name == "4" and missing:
            assert record["status"] == "not run"
            assert all(rel in record["note"] for rel in missing)
            continue
        assert record["status"] == "passed", f"stage {name}: {record['note']}\n{shown}"
        assert record["failed"] == 0
        assert record["passed"] >= 18  # the contract suite and the facade tests
        assert record["put_p50_ms"] > 0 and record["get_p50_ms"] > 0
        assert record["install_seconds"] > 0
    assert result.returncode == (1 if missing else 0), shown
    # The real pipeline released every package of HEAD: a package whose verification fails
    # (a contract suite that cannot run against its wheel) would block its releases.
    assert data["release"]["failure"] is None, data["release"]["failure"]
    tags = dict(tag.rsplit("-v", 1) for tag in data["release"]["tags"])
    assert stages["1"]["imported_from"].startswith(str(ROOT / "packages" / "trellis-blobs"))
    for name in ("2a", "2b", "3", "4")[: 3 if missing else 4]:
        assert stages[name]["installed"]["trellis-blobs"] == tags["trellis-blobs"]
        assert "site-packages" in stages[name]["imported_from"]
    assert any("submodule add" in c for c in stages["2a"]["commands"])
    assert any("git+file://" in c for c in stages["2b"]["commands"])
    assert any("--index-strategy first-index" in c for c in stages["3"]["commands"])
    if not missing:
        assert stages["4"]["installed"]["trellis-remote"] == tags["trellis-remote"]
        assert stages["4"]["details"]["files_in_the_service"] > 0
    assert "| stage" in result.stdout
    run_dir = Path(stages["1"]["commands"][0].split()[-1]).parents[1]
    assert run_dir.name.startswith("trellis-path-")
    assert not run_dir.exists(), "the run's temporary directory is removed without --keep"
