"""What release.yml runs once a release reaches main: find the tags, rebuild them exactly as
verified, verify them from a loopback index before publishing, check them on the index after."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from release_testkit import Released, copy_repo, git

from tools.release import Journal, ReleaseError, _tagged, build_tag, local_index
from tools.release._cli import main
from tools.release._index import sha256
from tools.release._tagged import parse_tag, verify_tag

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("release_tools")]


@pytest.fixture
def tagged(released: Released) -> tuple[Path, Journal]:
    return released.repo, released.journal


def test_build_tag_rebuilds_exactly_the_files_its_annotation_lists(
    tagged: tuple[Path, Journal], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, journal = tagged
    repo = copy_repo(source, tmp_path / "ci")
    # A CI runner may set SOURCE_DATE_EPOCH: the rebuild must still give the verified bytes.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    output = tmp_path / "github-output"
    files = build_tag(repo, "trellis-demo-v0.4.0", output, branch="main")
    assert {f.name: sha256(f) for f in files} == journal.package("trellis-demo").files, (
        "CI publishes the very files verified locally, byte for byte"
    )
    assert {f.parent for f in files} == {repo / "dist" / "trellis-demo"}
    assert output.read_text(encoding="utf-8").splitlines() == ["dists=trellis-demo"]


def _retag(repo: Path, tag: str, message: str | None) -> None:
    """Replace ``tag`` (on the same commit) by a lightweight one, or one with ``message``."""
    commit_sha = git(repo, "rev-parse", f"{tag}^{{commit}}")
    git(repo, "tag", "--delete", tag)
    if message is None:
        git(repo, "tag", tag, commit_sha)
    else:
        git(repo, "tag", "--annotate", tag, commit_sha, "--message", message)


def test_build_tag_refuses_a_lightweight_tag(tagged: tuple[Path, Journal], tmp_path: Path) -> None:
    repo = copy_repo(tagged[0], tmp_path / "ci")
    shutil.rmtree(repo / "dist")
    _retag(repo, "trellis-demo-v0.4.0", None)
    with pytest.raises(ReleaseError, match=r"trellis-demo-v0\.4\.0 is a lightweight tag"):
        build_tag(repo, "trellis-demo-v0.4.0", branch="main")
    assert not (repo / "dist" / "trellis-demo").exists(), "refused before building"


def test_build_tag_refuses_a_rebuild_that_differs_from_the_verified_files(
    tagged: tuple[Path, Journal], tmp_path: Path
) -> None:
    repo = copy_repo(tagged[0], tmp_path / "ci")
    wheel = "trellis_demo-0.4.0-py3-none-any.whl"
    sdist = "trellis_demo-0.4.0.tar.gz"
    real = tagged[1].package("trellis-demo").files
    _retag(
        repo,
        "trellis-demo-v0.4.0",
        f"trellis-demo 0.4.0\n\n  {sdist}  sha256:{real[sdist]}\n  {wheel}  sha256:{'0' * 64}\n",
    )
    with pytest.raises(ReleaseError) as caught:
        build_tag(repo, "trellis-demo-v0.4.0", branch="main")
    message = str(caught.value)
    assert f"{wheel}: rebuilt sha256 {real[wheel]}, tag lists {'0' * 64}" in message
    assert "not publishing" in message


def test_build_tag_refuses_a_tag_without_hashes(
    tagged: tuple[Path, Journal], tmp_path: Path
) -> None:
    repo = copy_repo(tagged[0], tmp_path / "ci")
    _retag(repo, "trellis-demo-v0.4.0", "trellis-demo 0.4.0")
    with pytest.raises(ReleaseError, match="lists no sha256 of verified files"):
        build_tag(repo, "trellis-demo-v0.4.0", branch="main")


def test_build_tag_refuses_a_tag_that_is_not_on_the_release_branch(
    tagged: tuple[Path, Journal], tmp_path: Path
) -> None:
    repo = copy_repo(tagged[0], tmp_path / "ci")
    git(repo, "checkout", "--quiet", "--detach")
    git(repo, "branch", "--force", "main", "HEAD~1")  # main never got the release commit
    with pytest.raises(ReleaseError, match=r"is not on main \(not an ancestor of it\)"):
        build_tag(repo, "trellis-demo-v0.4.0", branch="main")
    with pytest.raises(ReleaseError, match="branch 'origin/main' is unknown here"):
        build_tag(repo, "trellis-demo-v0.4.0")


def test_build_tag_refuses_a_tag_on_a_commit_that_does_not_release_it(
    tagged: tuple[Path, Journal], tmp_path: Path
) -> None:
    repo = copy_repo(tagged[0], tmp_path / "ci")
    message = git(repo, "tag", "--list", "--format=%(contents)", "trellis-demo-v0.4.0")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "not a release commit")
    git(repo, "tag", "--delete", "trellis-demo-v0.4.0")
    git(repo, "tag", "--annotate", "trellis-demo-v0.4.0", "--message", message)
    with pytest.raises(
        ReleaseError, match=r"has no trailer 'Release-Package: trellis-demo 0\.4\.0'"
    ):
        build_tag(repo, "trellis-demo-v0.4.0", branch="main")


def test_ci_verifies_the_rebuilt_files_from_a_loopback_index_before_publishing(
    tagged: tuple[Path, Journal], tmp_path: Path
) -> None:
    source, journal = tagged
    repo = copy_repo(source, tmp_path / "ci")
    shutil.rmtree(repo / ".release")  # a CI runner has no journal and no local index
    build_tag(repo, "trellis-demo-v0.4.0", branch="main")
    proofs = _tagged.verify_built(repo, ["trellis-demo-v0.4.0"], ["https://pypi.org/simple/"])
    proof = proofs["trellis-demo-v0.4.0"]
    resolved = {r["name"]: r for r in proof["resolved"]}
    assert resolved["trellis-core"]["version"] == "0.2.0", "seeded from its own tag"
    assert resolved["trellis-core"]["origin"] == "release index"
    demo_files = {f["sha256"] for f in resolved["trellis-demo"]["files"]}
    assert demo_files <= set(journal.package("trellis-demo").files.values())
    assert all(f["url"].startswith("http://127.0.0.1:") for f in resolved["trellis-demo"]["files"])
    assert proof["plugins"] == [{"name": "demo", "version": "0.4.0", "status": "active"}]


def test_verify_tag_installs_the_version_from_the_index(
    tagged: tuple[Path, Journal], tmp_path: Path
) -> None:
    source, _ = tagged
    repo = copy_repo(source, tmp_path / "ci")
    with local_index(repo / ".release" / "index") as index:
        proof = verify_tag(repo, "trellis-demo-v0.4.0", index.simple, ["https://pypi.org/simple/"])
    assert proof["plugins"] == [{"name": "demo", "version": "0.4.0", "status": "active"}]


def test_a_tag_that_does_not_match_the_checkout_is_refused(tagged: tuple[Path, Journal]) -> None:
    repo, _ = tagged
    with pytest.raises(ReleaseError, match=r"tag trellis-demo-v0\.3\.9 says 0\.3\.9, but"):
        parse_tag(repo, "trellis-demo-v0.3.9")
    with pytest.raises(ReleaseError, match="is not <dist>-v<version> for any project"):
        parse_tag(repo, "nothing-v1.0")
    with pytest.raises(ReleaseError, match="private and never released"):
        parse_tag(repo, "trellis-hq-v0.1.0")


def test_the_tags_to_publish_come_from_the_release_commits_of_a_push(
    tagged: tuple[Path, Journal], tmp_path: Path
) -> None:
    repo = copy_repo(tagged[0], tmp_path / "ci")
    after = git(repo, "rev-parse", "HEAD")
    before = git(repo, "rev-parse", "HEAD~1")
    wanted = ["trellis-core-v0.2.0", "trellis-demo-v0.4.0"]
    assert _tagged.release_tags(repo, before, after) == wanted, "in release order"
    assert _tagged.release_tags(repo, "0" * 40, after) == wanted, "a new branch: its tip"
    assert _tagged.release_tags(repo, after, after) == [], "no release commit pushed"
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "after the release")
    assert _tagged.release_tags(repo, before, "HEAD") == wanted

    git(repo, "tag", "--delete", "trellis-demo-v0.4.0")  # pushed the branch, not the tags
    with pytest.raises(ReleaseError) as caught:
        _tagged.release_tags(repo, before, after)
    assert "tag trellis-demo-v0.4.0 is missing" in str(caught.value)
    assert "git push --atomic origin trellis-demo-v0.4.0" in str(caught.value)
    assert "workflow_dispatch" in str(caught.value)


def test_the_tags_command_writes_the_tags_for_the_workflow(
    tagged: tuple[Path, Journal], tmp_path: Path
) -> None:
    repo = copy_repo(tagged[0], tmp_path / "ci")
    output = tmp_path / "github-output"
    base = ["--root", str(repo), "tags", "--github-output", str(output)]
    before = git(repo, "rev-parse", "HEAD~1")
    assert main([*base, "--before", before, "--after", "HEAD"]) == 0
    assert main([*base, "--before", "", "--tag", ""]) == 0, "workflow_dispatch without a push"
    assert main([*base, "--tag", "trellis-demo-v0.4.0 trellis-core-v0.2.0"]) == 0
    assert output.read_text(encoding="utf-8").splitlines() == [
        "tags=trellis-core-v0.2.0 trellis-demo-v0.4.0",
        "tags=trellis-core-v0.2.0 trellis-demo-v0.4.0",
        "tags=trellis-demo-v0.4.0 trellis-core-v0.2.0",
    ]
    assert main([*base, "--tag", "trellis-demo-v9"]) == 1


def test_verify_tag_checks_what_the_given_index_serves_even_when_dist_has_the_files(
    tagged: tuple[Path, Journal], tmp_path: Path
) -> None:
    """CI's `check` job has dist/ and names PyPI: the files PyPI serves are what is proved."""
    source, journal = tagged
    repo = copy_repo(source, tmp_path / "ci")
    assert sorted(p.name for p in (repo / "dist" / "trellis-demo").iterdir()) == sorted(
        journal.package("trellis-demo").files
    )
    other = tmp_path / "other-index"
    other.mkdir()
    for built in (repo / ".release" / "index").iterdir():
        if built.name != "trellis_demo-0.4.0.tar.gz":
            shutil.copy2(built, other / built.name)
    (other / "trellis_demo-0.4.0.tar.gz").write_bytes(b"not the sdist that was verified")
    wrong = sha256(other / "trellis_demo-0.4.0.tar.gz")
    verified = journal.package("trellis-demo").files["trellis_demo-0.4.0.tar.gz"]
    with local_index(other) as index, pytest.raises(ReleaseError) as caught:
        verify_tag(repo, "trellis-demo-v0.4.0", index.simple, ["https://pypi.org/simple/"])
    message = str(caught.value)
    assert f"{index.simple} serves trellis-demo 0.4.0 files other than" in message
    assert f"trellis_demo-0.4.0.tar.gz: {index.simple} has sha256 {wrong}" in message
    assert verified in message
