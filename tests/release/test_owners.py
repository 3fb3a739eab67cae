"""CODEOWNERS generated from the pyproject owners, and who to ask about a change."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from release_testkit import ROOT, commit, git

from tools.release import (
    ReleaseError,
    codeowners_problem,
    load_workspace,
    render_codeowners,
    review_for,
)


def test_this_repositorys_codeowners_is_up_to_date() -> None:
    problem = codeowners_problem(load_workspace(ROOT))
    assert problem is None, problem


def test_codeowners_lists_the_root_owners_first_then_each_project(
    make_repo: Callable[..., Path],
) -> None:
    text = render_codeowners(load_workspace(make_repo()))
    rules = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    assert rules[0][0] == "*"
    assert ["/packages/trellis-demo/", "@trellis/demo"] in rules
    assert [r[0] for r in rules[1:]] == [
        "/packages/trellis-core/",
        "/packages/trellis-demo/",
        "/services/hq/",
    ]


def test_a_project_without_owners_or_with_a_bad_owner_is_an_error(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo()
    pyproject = repo / "packages/trellis-demo/pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(
        text.replace('owners = ["@trellis/demo"]', "owners = []"), encoding="utf-8"
    )
    with pytest.raises(
        ReleaseError, match=r"packages/trellis-demo/pyproject\.toml names no owners"
    ):
        render_codeowners(load_workspace(repo))
    pyproject.write_text(text.replace("@trellis/demo", "trellis demo"), encoding="utf-8")
    with pytest.raises(ReleaseError, match="owner 'trellis demo' is not a GitHub"):
        render_codeowners(load_workspace(repo))


def test_stale_codeowners_is_reported_by_the_check_command(make_repo: Callable[..., Path]) -> None:
    repo = make_repo()
    command = [sys.executable, "-m", "tools.release", "--root", str(repo), "codeowners"]
    stale = subprocess.run([*command, "--check"], capture_output=True, text=True, cwd=ROOT)
    assert stale.returncode == 1
    assert ".github/CODEOWNERS is missing: regenerate it" in stale.stderr
    assert subprocess.run(command, capture_output=True, cwd=ROOT).returncode == 0
    fresh = subprocess.run([*command, "--check"], capture_output=True, text=True, cwd=ROOT)
    assert fresh.returncode == 0, fresh.stderr


def test_review_names_owners_of_changed_projects_and_of_their_dependents(
    make_repo: Callable[..., Path],
) -> None:
    workspace = load_workspace(make_repo())
    review = review_for(workspace, ["packages/trellis-core/src/trellis/core/_cli.py", "noxfile.py"])
    assert review.required == {
        "@trellis/core": ["trellis-core"],
        "@trellis/platform": ["repository files (noxfile.py)"],
    }
    assert review.affected == {"@trellis/demo": ["trellis-demo (depends on trellis-core)"]}
    assert "@trellis/platform" not in review.affected, "hq's owners are already asked"


def test_owners_command_compares_the_branch_with_its_base(make_repo: Callable[..., Path]) -> None:
    repo = make_repo()
    git(repo, "switch", "--quiet", "-c", "feature")
    readme = repo / "packages/trellis-demo/README.md"
    readme.write_text("changed\n", encoding="utf-8")
    commit(repo, "change the demo")
    command = [sys.executable, "-m", "tools.release", "--root", str(repo), "owners"]
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["files"] == ["packages/trellis-demo/README.md"]
    assert data["required"] == {"@trellis/demo": ["trellis-demo"]}
    text = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert text.startswith("1 changed file(s) since main. Ask for review from:")


@pytest.mark.parametrize("owner", ["@trellis/demo\n", "@trellis/demo\n* @attacker", "a@b.c\n"])
def test_an_owner_with_a_line_break_cannot_inject_a_codeowners_rule(owner: str) -> None:
    from tools.release._owners import _validate

    with pytest.raises(ReleaseError, match="is not a GitHub"):
        _validate([owner], "pyproject.toml")


@given(st.text(max_size=40))
def test_no_owner_with_whitespace_is_accepted(owner: str) -> None:
    from tools.release._owners import _validate

    try:
        _validate([owner], "pyproject.toml")
    except ReleaseError:
        return
    assert owner and not any(c.isspace() for c in owner)
