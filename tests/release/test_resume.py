"""Crashes at the worst moments of a release, and what the next run (or --abandon) does.

The first release (``released``) is copied; each test changes a package and crashes a release
of it before it builds anything, so these tests stay cheap.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from release_testkit import ROOT, Released, commit, copy_repo, fragment, git

from tools.release import Git, Journal, Options, ReleaseError, abandon, load_workspace, make_plan
from tools.release import release as run_release

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("release_tools")]


@pytest.fixture
def repo(released: Released, tmp_path: Path) -> Path:
    return copy_repo(released.repo, tmp_path / "repo")


def _change(repo: Path, folder: str, kind: str = "fix") -> str:
    """Change a package and add its fragment; commit; return the new HEAD."""
    target = next((repo / folder / "src").rglob("*.py"))
    target.write_text(target.read_text(encoding="utf-8") + "\n# a change\n", encoding="utf-8")
    fragment(repo, folder, f"+change.{kind}.md", f"A {kind}.")
    return commit(repo, f"change {folder}")


def _release(repo: Path, **options: object) -> tuple[Journal | None, list[str]]:
    log: list[str] = []
    journal = run_release(Options(root=repo, log=log.append, **options))  # type: ignore[arg-type]
    return journal, log


def _crash_after_the_commit(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a release that is killed right after `git commit`, before the journal records it."""
    save = Journal.save

    def killed(self: Journal) -> None:
        if self.release_commit is not None:
            raise KeyboardInterrupt("killed after git commit, before the journal saw it")
        save(self)

    with monkeypatch.context() as patch:
        patch.setattr(Journal, "save", killed)
        with pytest.raises(KeyboardInterrupt):
            _release(repo)
    journal = Journal.load(repo / ".release" / "journal.json")
    assert journal is not None and journal.release_commit is None


def test_a_crash_between_the_commit_and_the_journal_resumes_from_that_commit(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _change(repo, "packages/trellis-demo")
    _crash_after_the_commit(repo, monkeypatch)
    head = git(repo, "rev-parse", "HEAD")
    assert git(repo, "rev-parse", "HEAD~1") == base, "the release commit was made"

    journal, log = _release(repo, stop_after="built")
    assert journal is not None
    assert f"adopted its release commit {head[:12]}" in log[0]
    assert journal.release_commit == head
    assert journal.package("trellis-demo").state == "built"
    assert git(repo, "rev-parse", "HEAD") == head, "no second release commit"


def test_abandoning_after_that_crash_says_how_to_get_the_fragments_back(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _change(repo, "packages/trellis-demo")
    _crash_after_the_commit(repo, monkeypatch)
    log: list[str] = []
    assert abandon(Options(root=repo, log=log.append)) is not None
    told = "\n".join(log)
    assert f"git reset --hard {base}" in told, told
    assert "not pushed" in told

    git(repo, "reset", "--hard", base)  # as told: the fragments come back
    plan = make_plan(load_workspace(repo), Git(repo))
    assert not plan.problems
    assert [(e.name, str(e.next)) for e in plan.releases] == [("trellis-demo", "0.4.1")]


def test_resuming_on_a_detached_head_is_refused_even_when_the_tree_is_clean(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _change(repo, "packages/trellis-demo")
    _crash_after_the_commit(repo, monkeypatch)
    git(repo, "checkout", "--quiet", "--detach")
    with pytest.raises(ReleaseError, match="HEAD is detached"):
        _release(repo)


def _crash_in_the_second_towncrier_build(repo: Path) -> subprocess.CompletedProcess[str]:
    """A release killed (SIGKILL) while towncrier builds the second package's changelog."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        import tools.release._pipeline as pipeline
        from tools.release import Options, release

        original, calls = pipeline.build_changelog, []

        def crash(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs)

        pipeline.build_changelog = crash
        release(Options(root=Path({str(repo)!r}), log=print))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ)
    )


def test_a_crash_while_writing_changelogs_is_undone_by_the_next_run(repo: Path) -> None:
    base = _change(repo, "packages/trellis-core", "feature")
    crashed = _crash_in_the_second_towncrier_build(repo)
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    assert git(repo, "rev-parse", "HEAD") == base
    assert git(repo, "status", "--porcelain"), "towncrier left staged and unstaged edits"

    journal, log = _release(repo, stop_after="built")
    assert journal is not None
    assert any(
        f"restored packages/trellis-core, packages/trellis-demo to {base[:12]}" in line
        for line in log
    ), log
    assert [(p.name, p.version, p.state) for p in journal.packages] == [
        ("trellis-core", "0.3.0", "built"),
        ("trellis-demo", "0.4.1", "built"),
    ]
    assert journal.base_commit == base
    changelog = (repo / "packages/trellis-core/CHANGELOG.md").read_text(encoding="utf-8")
    assert "- A feature." in changelog
    assert git(repo, "status", "--porcelain") == ""


def test_a_failure_while_writing_changelogs_restores_the_tree_at_once(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tools.release._pipeline as pipeline

    base = _change(repo, "packages/trellis-core", "feature")
    original, calls = pipeline.build_changelog, []

    def failing(*args: object, **kwargs: object) -> Path:
        calls.append(1)
        if len(calls) == 2:
            raise ReleaseError("towncrier failed")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "build_changelog", failing)
    with pytest.raises(ReleaseError, match="towncrier failed"):
        _release(repo)
    assert git(repo, "status", "--porcelain") == "", "nothing half-written is left behind"
    assert git(repo, "rev-parse", "HEAD") == base


def test_a_crash_leaving_edits_outside_the_release_prints_the_exact_recovery(
    repo: Path,
) -> None:
    base = _change(repo, "packages/trellis-core", "feature")
    assert _crash_in_the_second_towncrier_build(repo).returncode == -9
    (repo / "notes.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(ReleaseError) as caught:
        _release(repo)
    message = str(caught.value)
    assert "notes.txt" in message
    assert (
        f"git restore --source={base} --staged --worktree -- packages/trellis-core "
        "packages/trellis-demo && git clean -fd -- packages/trellis-core packages/trellis-demo"
    ) in message
    assert git(repo, "status", "--porcelain"), "the tool touched nothing it did not own"
