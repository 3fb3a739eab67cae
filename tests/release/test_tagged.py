"""What release.yml runs on a tag push: build and check one tagged version, verify it."""

from __future__ import annotations

from pathlib import Path

import pytest
from release_testkit import Released, copy_repo, git

from tools.release import Journal, ReleaseError, build_tag, local_index
from tools.release._index import sha256
from tools.release._tagged import parse_tag, verify_tag

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("release_tools")]


@pytest.fixture
def tagged(released: Released) -> tuple[Path, Journal]:
    return released.repo, released.journal


def test_build_tag_rebuilds_exactly_the_released_files(
    tagged: tuple[Path, Journal], tmp_path: Path
) -> None:
    source, journal = tagged
    repo = copy_repo(source, tmp_path / "ci")
    git(repo, "checkout", "--quiet", "trellis-demo-v0.4.0")
    output = tmp_path / "github-output"
    files = build_tag(repo, "trellis-demo-v0.4.0", output)
    assert {f.name: sha256(f) for f in files} == journal.package("trellis-demo").files, (
        "hatch builds are reproducible: CI publishes the very files verified locally"
    )
    assert output.read_text(encoding="utf-8").splitlines() == [
        "dist=trellis-demo",
        "version=0.4.0",
        "dir=dist/trellis-demo",
    ]


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
