"""tools/declared.py: an environment holding what a project does not declare is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def declared(project: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "declared.py"), project],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_the_whole_suite_environment_holds_more_than_trellis_core_declares():
    # This environment has every package's test tools: for trellis-core alone, boto3 (blobs'
    # s3 extra), moto (blobs' tests) and twine (the release tools) are undeclared.
    result = declared("packages/trellis-core")
    assert result.returncode == 1, result.stdout + result.stderr
    names = result.stderr.split("test: ", 1)[1].split("; declare")[0].split(", ")
    assert {"boto3", "moto", "twine"} <= set(names)
    assert "django" not in names  # the [django] extra declares it
    assert "hypothesis" not in names  # its [dependency-groups] test declares it
    assert "trellis-core" not in names


def test_a_folder_without_a_pyproject_is_named():
    result = declared("no/such/project")
    assert result.returncode == 2
    assert "no/such/project has no pyproject.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_project_needs_one_argument():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "declared.py")], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr
