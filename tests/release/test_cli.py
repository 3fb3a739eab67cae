"""``python -m tools.release``: options that are refused together, and what the text plan shows."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from release_testkit import ROOT, git


def _cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.release", "--root", str(repo), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["run", "--json"], "--json prints the plan of a dry run: add --dry-run"),
        (["run", "--abandon", "--dry-run"], "--abandon changes the release in progress"),
        (["run", "--abandon", "--json"], "--json prints the plan of a dry run"),
    ],
)
def test_run_refuses_options_it_would_not_honour_before_doing_anything(
    make_repo: Callable[..., Path], args: list[str], said: str
) -> None:
    repo = make_repo()
    head = git(repo, "rev-parse", "HEAD")
    result = _cli(repo, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert said in result.stderr
    assert result.stdout == ""
    assert git(repo, "rev-parse", "HEAD") == head, "no release commit"
    assert git(repo, "tag", "--list") == "", "no tag"
    assert not (repo / ".release").exists(), "no journal, no index, no lock"


def test_verify_refuses_local_together_with_an_index_url(make_repo: Callable[..., Path]) -> None:
    repo = make_repo()
    args = ["verify", "--tag", "trellis-core-v0.2.0", "--local"]
    result = _cli(repo, *args, "--index-url", "https://pypi.org/simple/")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--local and --index-url name two different indexes" in result.stderr


def test_the_text_plan_shows_the_tags_the_pins_and_the_target_index(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo()
    result = _cli(repo, "run", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["order", "package", "version", "bump", "tag", "why"]
    assert lines[1].split()[:7] == [
        "1",
        "trellis-core",
        "0.1.0",
        "->",
        "0.2.0",
        "minor",
        "trellis-core-v0.2.0",
    ]
    assert lines[2].split()[6] == "trellis-demo-v0.4.0"
    assert "  trellis-demo: trellis-core>=0.2,<1 (released together)" in lines
    assert f"Index: local pypiserver serving {repo / '.release' / 'index'}" in lines

    other = _cli(repo, "plan", "--index-url", "https://test.pypi.org/simple/")
    assert other.returncode == 0, other.stderr
    assert "Index: https://test.pypi.org/simple/" in other.stdout.splitlines()
