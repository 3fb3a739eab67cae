"""The guards: no release from a dirty tree, a detached HEAD or a branch behind its upstream."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from release_testkit import commit, git

from tools.release import Git, Options, ReleaseError, check_releasable, release


def test_a_clean_branch_may_release(make_repo: Callable[..., Path]) -> None:
    check_releasable(Git(make_repo()))


def test_a_dirty_tree_refuses_to_start_and_lists_the_files(make_repo: Callable[..., Path]) -> None:
    repo = make_repo()
    (repo / "packages/trellis-core/README.md").write_text("edited\n", encoding="utf-8")
    (repo / "stray.txt").write_text("new\n", encoding="utf-8")
    with pytest.raises(ReleaseError) as caught:
        release(Options(root=repo, log=lambda _: None))
    message = str(caught.value)
    assert "the working tree has 2 uncommitted change(s)" in message
    assert "packages/trellis-core/README.md" in message and "stray.txt" in message
    assert "git stash -u" in message
    assert not (repo / ".release" / "journal.json").exists(), "refused before any step"


def test_a_detached_head_refuses(make_repo: Callable[..., Path]) -> None:
    repo = make_repo()
    git(repo, "checkout", "--quiet", "--detach")
    with pytest.raises(ReleaseError, match=r"HEAD is detached at .*git switch main"):
        check_releasable(Git(repo))


def test_a_branch_behind_its_upstream_refuses(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    origin = make_repo("origin")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(origin), str(clone))
    (origin / "packages/trellis-core/README.md").write_text("newer\n", encoding="utf-8")
    commit(origin, "upstream moves on")
    git(clone, "fetch", "--quiet")
    with pytest.raises(
        ReleaseError, match=r"main is 1 commit\(s\) behind origin/main.*pull --ff-only"
    ):
        check_releasable(Git(clone))


def test_last_release_is_the_highest_reachable_version_tag(make_repo: Callable[..., Path]) -> None:
    repo = make_repo()
    for tag in ("trellis-core-v0.9.0", "trellis-core-v0.10.0", "trellis-core-vnext"):
        git(repo, "tag", "-a", tag, "-m", tag)
    git(repo, "tag", "trellis-core-v0.11.0")  # lightweight tags count too
    found = Git(repo).last_release("trellis-core")
    assert found is not None and found[0] == "trellis-core-v0.11.0"
