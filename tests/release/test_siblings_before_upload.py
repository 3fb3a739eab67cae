"""A release whose packages could not be installed from the index uploads nothing.

Every in-repo requirement of each package to upload must be met by a package of the same
release or by a wheel already on the target index; otherwise the run stops before the first
upload (verification would only find out after publishing a version nobody can install).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from release_testkit import Released, commit, copy_repo, fragment, git, private_index

from tools.release import Journal, Options, ReleaseError, release

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("release_tools")]


def _change_demo(repo: Path) -> None:
    plugin = repo / "packages/trellis-demo/src/trellis/demo/plugin.py"
    plugin.write_text(plugin.read_text(encoding="utf-8") + "\n# a change\n", encoding="utf-8")
    fragment(repo, "packages/trellis-demo", "+change.fix.md", "A fix.")
    commit(repo, "change the demo")


def test_a_sibling_missing_from_the_target_index_stops_the_release_before_any_upload(
    released: Released, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only trellis-demo is released; the index it goes to has no trellis-core at all."""
    repo = copy_repo(released.repo, tmp_path / "repo")
    _change_demo(repo)
    directory = tmp_path / "index"
    directory.mkdir()
    monkeypatch.setenv("TWINE_USERNAME", "uploader")
    monkeypatch.setenv("TWINE_PASSWORD", "s3cret")
    log: list[str] = []
    with (
        private_index(directory, "uploader", "s3cret") as base,
        pytest.raises(ReleaseError) as caught,
    ):
        release(Options(root=repo, index_url=f"{base}simple/", log=log.append))
    message = str(caught.value)
    assert list(directory.iterdir()) == [], "nothing was uploaded"
    assert "nothing was uploaded" in message
    assert "trellis-demo 0.4.1 needs trellis-core>=0.2,<1 (required by trellis-demo)" in message
    assert f"{base}simple/ has no wheel of it that satisfies that (wheels there: none)" in message
    assert "but this run does not release it and" in message
    journal = Journal.load(repo / ".release" / "journal.json")
    assert journal is not None and journal.package("trellis-demo").state == "checked"
    assert "trellis-demo-v0.4.1" not in git(repo, "tag", "--list")


def test_a_sibling_on_the_index_only_at_a_version_that_does_not_satisfy_is_refused_too(
    released: Released, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index has trellis-core 0.2.0's sdist only: verification installs wheels only."""
    repo = copy_repo(released.repo, tmp_path / "repo")
    _change_demo(repo)
    directory = tmp_path / "index"
    directory.mkdir()
    sdist = "trellis_core-0.2.0.tar.gz"
    shutil.copy2(released.repo / ".release/index" / sdist, directory / sdist)
    monkeypatch.setenv("TWINE_USERNAME", "uploader")
    monkeypatch.setenv("TWINE_PASSWORD", "s3cret")
    with (
        private_index(directory, "uploader", "s3cret") as base,
        pytest.raises(ReleaseError) as caught,
    ):
        release(Options(root=repo, index_url=f"{base}simple/", log=lambda _: None))
    assert [p.name for p in directory.iterdir()] == [sdist], "nothing was uploaded"
    message = str(caught.value)
    assert "needs trellis-core>=0.2,<1" in message
    assert "has no wheel of it that satisfies that (wheels there: none)" in message
