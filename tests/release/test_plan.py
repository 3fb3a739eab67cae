"""The release plan: changed packages since their tags, dependents, bumps, order, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from release_testkit import ROOT, commit, fragment, git

from tools.release import Git, ReleaseError, load_workspace, make_plan
from tools.release._plan import Plan


def _plan(repo: Path) -> Plan:
    return make_plan(load_workspace(repo), Git(repo))


def _tagged(make_repo: Callable[..., Path]) -> Path:
    """A repository whose packages are released at their current versions (tags at HEAD)."""
    repo = make_repo(fragments=False)
    git(repo, "tag", "-a", "trellis-core-v0.1.0", "-m", "trellis-core 0.1.0")
    git(repo, "tag", "-a", "trellis-demo-v0.3.0", "-m", "trellis-demo 0.3.0")
    return repo


def _touch(repo: Path, rel: str) -> None:
    path = repo / rel
    path.write_text(path.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")


def test_first_release_takes_every_file_and_the_current_version_as_base(
    make_repo: Callable[..., Path],
) -> None:
    plan = _plan(make_repo())
    assert not plan.problems
    rows = {e.name: e for e in plan.entries}
    assert [e.name for e in plan.releases] == ["trellis-core", "trellis-demo"]
    core = rows["trellis-core"]
    assert (str(core.current), str(core.next), core.bump, core.order) == (
        "0.1.0",
        "0.2.0",
        "minor",
        1,
    )
    assert core.last_tag is None
    assert "packages/trellis-core/pyproject.toml" in core.changed_files
    assert "first release: no tag yet" in core.why()
    assert rows["trellis-demo"].pins == {"trellis-core": ">=0.2,<1"}
    hq = rows["trellis-hq"]
    assert hq.private and hq.next is None and hq.order is None
    assert hq.dependent_of == ("trellis-core",)
    assert not hq.changed_files, "a private project is never 'changed': it is never released"


def test_nothing_changed_gives_an_empty_plan(make_repo: Callable[..., Path]) -> None:
    plan = _plan(_tagged(make_repo))
    assert plan.entries == ()
    assert plan.table().startswith("Nothing to release")


def test_a_leaf_change_releases_only_the_leaf(make_repo: Callable[..., Path]) -> None:
    repo = _tagged(make_repo)
    _touch(repo, "packages/trellis-demo/src/trellis/demo/plugin.py")
    fragment(repo, "packages/trellis-demo", "12.fix.md", "Fix the greeting.")
    commit(repo)
    plan = _plan(repo)
    assert [(e.name, str(e.next), e.bump) for e in plan.entries] == [
        ("trellis-demo", "0.3.1", "patch")
    ]
    assert plan.entries[0].changed_files == (
        "packages/trellis-demo/changelog.d/12.fix.md",
        "packages/trellis-demo/src/trellis/demo/plugin.py",
    )
    assert plan.entries[0].pins == {"trellis-core": ">=0.1,<1"}, "an unreleased sibling: as is"


def test_a_core_change_brings_its_dependents_in_order(make_repo: Callable[..., Path]) -> None:
    repo = _tagged(make_repo)
    _touch(repo, "packages/trellis-core/src/trellis/core/_cli.py")
    fragment(repo, "packages/trellis-core", "+api.breaking.md", "Rename a hook.")
    fragment(repo, "packages/trellis-core", "+docs.doc.md", "Document it.")
    commit(repo)
    plan = _plan(repo)
    table = [(e.order, e.name, str(e.current), str(e.next), e.bump) for e in plan.entries]
    assert table == [
        (1, "trellis-core", "0.1.0", "1.0.0", "major"),
        (2, "trellis-demo", "0.3.0", "0.3.1", "patch"),
        (None, "trellis-hq", "0.1.0", "None", None),
    ]
    demo = plan.entries[1]
    assert demo.dependent_of == ("trellis-core",) and not demo.changed_files
    assert demo.pins == {"trellis-core": ">=1.0,<2"}
    assert "dependent of trellis-core" in plan.table()


def test_a_changed_package_without_a_fragment_is_a_problem_naming_it(
    make_repo: Callable[..., Path],
) -> None:
    repo = _tagged(make_repo)
    _touch(repo, "packages/trellis-demo/README.md")
    commit(repo)
    plan = _plan(repo)
    [problem] = plan.problems
    assert problem.startswith(
        "trellis-demo changed (1 file(s), e.g. packages/trellis-demo/README.md)"
    )
    assert "packages/trellis-demo/changelog.d/+short-name.fix.md" in problem


def test_an_unknown_fragment_type_is_an_error(make_repo: Callable[..., Path]) -> None:
    repo = _tagged(make_repo)
    fragment(repo, "packages/trellis-demo", "+x.feat.md")
    commit(repo)
    with pytest.raises(ReleaseError, match=r"\+x\.feat\.md is not a changelog fragment name"):
        _plan(repo)


def test_a_version_behind_its_tag_is_a_problem(make_repo: Callable[..., Path]) -> None:
    repo = make_repo()
    git(repo, "tag", "-a", "trellis-core-v0.5.0", "-m", "x")
    _touch(repo, "packages/trellis-core/README.md")
    commit(repo)
    problems = _plan(repo).problems
    assert any(
        "is 0.1.0, lower than its last release tag trellis-core-v0.5.0" in p for p in problems
    )


def test_a_version_ahead_of_its_tag_is_the_base(make_repo: Callable[..., Path]) -> None:
    """After an abandoned release the source holds a version never tagged: bump from it."""
    repo = _tagged(make_repo)
    version = repo / "packages/trellis-demo/src/trellis/demo/_version.py"
    version.write_text('__version__ = "0.3.5"\n', encoding="utf-8")
    fragment(repo, "packages/trellis-demo", "+again.fix.md")
    commit(repo)
    [entry] = _plan(repo).entries
    assert (str(entry.current), str(entry.next)) == ("0.3.5", "0.3.6")


def test_a_tag_of_the_next_version_says_whether_this_branch_holds_it(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo()
    here = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "-a", "trellis-core-v0.2.0", "-m", "released from this branch")
    _touch(repo, "packages/trellis-core/README.md")
    commit(repo, "a change after that tag")
    [problem] = [p for p in _plan(repo).problems if "already exists" in p]
    assert (
        f"tag trellis-core-v0.2.0 already exists on commit {here[:12]}, on this branch" in problem
    )
    assert "not on this branch" not in problem

    git(repo, "tag", "--delete", "trellis-core-v0.2.0")
    git(repo, "switch", "--quiet", "--create", "elsewhere")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "elsewhere")
    there = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "-a", "trellis-core-v0.2.0", "-m", "released from another branch")
    git(repo, "switch", "--quiet", "main")
    [problem] = _plan(repo).problems
    assert (
        f"tag trellis-core-v0.2.0 already exists on commit {there[:12]}, which is not on this "
        "branch"
    ) in problem
    assert "raise trellis-core's version in src/trellis/core/_version.py past 0.2.0" in problem


def test_dry_run_cli_prints_the_table_and_json(make_repo: Callable[..., Path]) -> None:
    repo = make_repo()
    command = [sys.executable, "-m", "tools.release", "--root", str(repo), "run", "--dry-run"]
    table = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert table.returncode == 0, table.stderr
    header = ["order", "package", "version", "bump", "tag", "why"]
    assert table.stdout.splitlines()[0].split() == header
    first = table.stdout.splitlines()[1].split()
    assert first[:6] == ["1", "trellis-core", "0.1.0", "->", "0.2.0", "minor"]
    as_json = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    data = json.loads(as_json.stdout)
    assert [p["tag"] for p in data["packages"]] == [
        "trellis-core-v0.2.0",
        "trellis-demo-v0.4.0",
        None,
    ]
    assert git(repo, "status", "--porcelain") == "", "a dry run changes nothing"


def test_dry_run_cli_exits_1_and_names_the_package_without_fragment(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(fragments=False)
    command = [sys.executable, "-m", "tools.release", "--root", str(repo), "plan"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 1
    assert "error: trellis-core changed" in result.stderr
    assert "error: trellis-demo changed" in result.stderr


def test_only_accepts_any_spelling_of_a_package_name(make_repo: Callable[..., Path]) -> None:
    repo = _tagged(make_repo)
    _touch(repo, "packages/trellis-core/README.md")
    _touch(repo, "packages/trellis-demo/README.md")
    fragment(repo, "packages/trellis-core", "+a.fix.md")
    fragment(repo, "packages/trellis-demo", "+b.fix.md")
    commit(repo)
    plan = make_plan(load_workspace(repo), Git(repo), only={"Trellis_Demo"})
    assert [e.name for e in plan.releases] == ["trellis-demo"]


def test_only_with_an_unknown_or_private_name_is_an_error_listing_the_packages(
    make_repo: Callable[..., Path],
) -> None:
    repo = _tagged(make_repo)
    with pytest.raises(ReleaseError) as caught:
        make_plan(load_workspace(repo), Git(repo), only={"trellis-dmeo"})
    message = str(caught.value)
    assert "--only trellis-dmeo: no such package" in message
    assert "packages that can be released: trellis-core, trellis-demo" in message
    with pytest.raises(ReleaseError, match="--only trellis-hq: it is private"):
        make_plan(load_workspace(repo), Git(repo), only={"trellis-hq"})
    command = [sys.executable, "-m", "tools.release", "--root", str(repo), "plan"]
    result = subprocess.run(
        [*command, "--only", "nope"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 1
    assert "--only nope: no such package" in result.stderr
