"""Crashes at the worst moments of a release, and what the next run (or --abandon) does.

The first release (``released``) is copied; each test changes a package and crashes a release
of it before it builds anything, so these tests stay cheap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from packaging.version import Version
from release_testkit import ROOT, Released, commit, copy_repo, fragment, git

from tools.release import Git, Journal, Options, ReleaseError, abandon, load_workspace, make_plan
from tools.release import release as run_release
from tools.release._cli import main

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


def _kill_after_writing_the_first_version(repo: Path) -> subprocess.CompletedProcess[str]:
    """A release killed (SIGKILL) once it wrote one package's version, before the next one."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        import tools.release._pipeline as pipeline
        from tools.release import Options, release

        original = pipeline.write_version

        def write_then_die(*args, **kwargs):
            original(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)

        pipeline.write_version = write_then_die
        release(Options(root=Path({str(repo)!r}), log=print))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ)
    )


def _dry_run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.release", "--root", str(repo), "run", "--dry-run", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_after_a_kill_while_writing_versions_the_dry_run_shows_what_the_re_run_releases(
    repo: Path,
) -> None:
    base = _change(repo, "packages/trellis-core", "feature")
    crashed = _kill_after_writing_the_first_version(repo)
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    assert load_workspace(repo).projects["trellis-core"].version == Version("0.3.0"), (
        "the kill left trellis-core's version written, uncommitted"
    )

    text = _dry_run(repo)
    assert text.returncode == 0, text.stderr
    assert "stopped while writing versions and changelogs" in text.stdout
    assert f"restores packages/trellis-core, packages/trellis-demo to {base[:12]}" in text.stdout
    assert "do not commit them" in text.stdout
    assert "refuses to start until they are committed" not in text.stdout
    [core] = [line.split() for line in text.stdout.splitlines() if line.startswith("1 ")]
    assert core[1:5] == ["trellis-core", "0.2.0", "->", "0.3.0"], text.stdout
    as_json = json.loads(_dry_run(repo, "--json").stdout)
    promised = {p["name"]: p["next"] for p in as_json["packages"] if not p["private"]}
    assert as_json["in_progress"]["action"] == "restore and plan again"

    journal, _ = _release(repo, stop_after="built")  # what the dry run says to do
    assert journal is not None
    assert {p.name: p.version for p in journal.packages} == promised
    assert promised == {"trellis-core": "0.3.0", "trellis-demo": "0.4.1"}, "0.3.0 is not skipped"


def test_the_dry_run_of_a_release_that_resumes_shows_the_release_not_a_new_plan(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(repo, "packages/trellis-demo")
    _crash_after_the_commit(repo, monkeypatch)
    head = git(repo, "rev-parse", "HEAD")
    assert main(["--root", str(repo), "run", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert f"`nox -s release` adopts its release commit {head[:12]} and resumes" in out
    assert "trellis-demo 0.4.0 -> 0.4.1: planned" in out
    assert err == "", "no 'missing fragment' error: the release commit consumed the fragments"
    assert main(["--root", str(repo), "run", "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["in_progress"]["action"] == "resume"
    assert [(p["name"], p["next"], p["state"]) for p in data["packages"]] == [
        ("trellis-demo", "0.4.1", "planned")
    ]
    assert data["problems"] == []


def test_resuming_from_another_commit_says_how_to_get_back_on_a_branch(repo: Path) -> None:
    _change(repo, "packages/trellis-demo")
    journal, _ = _release(repo, stop_after="built")
    assert journal is not None and journal.release_commit is not None
    release_commit = journal.release_commit
    git(repo, "switch", "--quiet", "--create", "elsewhere", "HEAD~1")
    with pytest.raises(ReleaseError) as caught:
        _release(repo)
    message = str(caught.value)
    assert "check out" not in message, "a detached HEAD is refused: never advise one"
    assert "`git switch main`" in message
    git(repo, "switch", "--quiet", "main")  # as told
    journal, _ = _release(repo, stop_after="built")
    assert journal is not None and journal.release_commit == release_commit

    git(repo, "reset", "--quiet", "--hard", "HEAD~1")  # no branch holds the release commit now
    with pytest.raises(ReleaseError) as caught:
        _release(repo)
    message = str(caught.value)
    assert "check out" not in message
    command = f"git switch --create release-{journal.id} {release_commit}"
    assert f"`{command}`" in message
    git(repo, *command.split()[1:])  # as told
    journal, _ = _release(repo, stop_after="built")
    assert journal is not None and journal.release_commit == release_commit


def test_committing_a_killed_release_s_versions_is_caught_before_it_skips_them(
    repo: Path,
) -> None:
    """Someone committed the half-written versions (as an older dry run advised)."""
    base = _change(repo, "packages/trellis-core", "feature")
    assert _kill_after_writing_the_first_version(repo).returncode == -9
    commit(repo, "commit what the interrupted release left")

    dry = _dry_run(repo)
    assert dry.returncode == 1
    version_file = "packages/trellis-core/src/trellis/core/_version.py"
    assert (
        f"trellis-core's version is 0.3.0, which release {_journal_id(repo)} wrote and never "
        f"released: set it back (`git restore --source={base} -- {version_file}`) and commit"
    ) in dry.stderr, dry.stderr

    assert abandon(Options(root=repo, log=lambda _: None)) is not None  # as told
    git(repo, "restore", f"--source={base}", "--", version_file)
    commit(repo, "back to the released version")
    journal, _ = _release(repo, stop_after="built")
    assert journal is not None
    assert {p.name: p.version for p in journal.packages} == {
        "trellis-core": "0.3.0",
        "trellis-demo": "0.4.1",
    }


def _journal_id(repo: Path) -> str:
    journal = Journal.load(repo / ".release" / "journal.json")
    assert journal is not None
    return journal.id
