"""The whole pipeline against a real pypiserver: release, re-run, resume, refusals, confusion.

One first release (``released``) is made per module; each test copies that repository (with
its local index) and goes on from there.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from packaging.version import Version
from release_testkit import (
    Released,
    commit,
    copy_repo,
    fake_wheel,
    fragment,
    git,
    private_index,
)

from tools.release import (
    Index,
    Journal,
    Options,
    ReleaseError,
    abandon,
    local_index,
    project_files,
    release,
)
from tools.release._index import sha256, upload
from tools.release._proc import tool
from tools.release._verify import PYPI, Target, resolve, venv_bin, verify
from tools.release._workspace import load_workspace

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("release_tools")]

STATES = ["planned", "built", "checked", "uploaded", "verified", "tagged"]


def _release(repo: Path, **options: object) -> tuple[Journal | None, list[str]]:
    log: list[str] = []
    journal = release(Options(root=repo, log=log.append, **options))  # type: ignore[arg-type]
    return journal, log


def _change(repo: Path, folder: str, kind: str = "fix") -> None:
    target = next((repo / folder / "src").rglob("plugin.py"), None) or next(
        (repo / folder / "src").rglob("_cli.py")
    )
    target.write_text(target.read_text(encoding="utf-8") + "\n# a change\n", encoding="utf-8")
    fragment(repo, folder, f"+change.{kind}.md", f"A {kind}.")
    commit(repo, f"change {folder}")


@pytest.fixture
def repo(released: Released, tmp_path: Path) -> Path:
    return copy_repo(released.repo, tmp_path / "repo")


@pytest.fixture
def public_index(tmp_path: Path) -> Iterator[str]:
    """A second index, standing in for a public one, holding a squatted ``trellis-core``."""
    directory = tmp_path / "public"
    fake_wheel(directory, "trellis-core", "0.9.0", note="squatter")
    with local_index(directory) as index:
        yield index.simple


def test_first_release_uploads_verifies_and_tags_every_package(released: Released) -> None:
    repo, journal = released.repo, released.journal
    assert journal.status == "complete"
    assert [(p.name, p.previous, p.version) for p in journal.packages] == [
        ("trellis-core", "0.1.0", "0.2.0"),
        ("trellis-demo", "0.3.0", "0.4.0"),
    ]
    for record in journal.packages:
        assert [h["state"] for h in record.history] == STATES
        assert sorted(record.uploaded) == sorted(record.files)
        for filename, digest in record.files.items():
            assert sha256(repo / ".release" / "index" / filename) == digest
        origins = {r["name"]: r["origin"] for r in record.proof["resolved"]}
        assert origins[record.name] == "release index"
        assert {n for n, o in origins.items() if n.startswith("trellis-")} <= {
            n for n, o in origins.items() if o == "release index"
        }
        assert record.proof["plugins"][0]["version"] == record.version
    demo = journal.package("trellis-demo")
    assert demo.proof["contract_suite"].startswith("1 passed")
    assert ".release/venvs/trellis-demo" in demo.proof["import"]

    assert "git push --atomic --follow-tags origin main" in released.log[-1], "branch + tags"
    tags = git(repo, "tag", "--list").split()
    assert tags == ["trellis-core-v0.2.0", "trellis-demo-v0.4.0"]
    assert git(repo, "rev-parse", "trellis-demo-v0.4.0^{commit}") == journal.release_commit
    assert git(repo, "status", "--porcelain") == ""
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("Release trellis-core 0.2.0, trellis-demo 0.4.0")
    demo_pyproject = (repo / "packages/trellis-demo/pyproject.toml").read_text(encoding="utf-8")
    assert '"trellis-core>=0.2,<1",' in demo_pyproject
    assert '"trellis-core[testing]>=0.2,<1"' in demo_pyproject
    changelog = (repo / "packages/trellis-core/CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.index("<!-- towncrier release notes start -->") < changelog.index("## 0.2.0 (")
    assert "- First release." in changelog
    assert not list((repo / "packages/trellis-core/changelog.d").glob("*.md"))


def test_rerun_after_a_release_is_a_noop(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    journal, log = _release(repo)
    assert journal is None
    assert log[-1].startswith("Nothing to release")
    assert git(repo, "rev-parse", "HEAD") == head


def test_a_leaf_change_releases_only_the_leaf(repo: Path) -> None:
    _change(repo, "packages/trellis-demo")
    journal, log = _release(repo)
    assert journal is not None
    assert [(p.name, p.version) for p in journal.packages] == [("trellis-demo", "0.4.1")]
    assert any(line.strip().startswith("built trellis-demo (") for line in log)
    resolved = {r["name"]: r for r in journal.package("trellis-demo").proof["resolved"]}
    assert resolved["trellis-core"]["version"] == "0.2.0"
    assert resolved["trellis-core"]["origin"] == "release index"
    assert git(repo, "tag", "--list", "trellis-demo-*").split() == [
        "trellis-demo-v0.4.0",
        "trellis-demo-v0.4.1",
    ]


def test_a_core_change_releases_core_then_its_dependents(repo: Path) -> None:
    _change(repo, "packages/trellis-core", "feature")
    journal, _ = _release(repo)
    assert journal is not None
    assert [(p.order, p.name, p.version, p.bump) for p in journal.packages] == [
        (1, "trellis-core", "0.3.0", "minor"),
        (2, "trellis-demo", "0.4.1", "patch"),
    ]
    demo = repo / "packages/trellis-demo"
    assert '"trellis-core>=0.3,<1",' in (demo / "pyproject.toml").read_text(encoding="utf-8")
    changelog = (demo / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "Requires trellis-core>=0.3,<1, released together with this version." in changelog
    resolved = {r["name"]: r["version"] for r in journal.package("trellis-demo").proof["resolved"]}
    assert resolved["trellis-core"] == "0.3.0"
    hq = (repo / "services/hq/pyproject.toml").read_text(encoding="utf-8")
    assert '"trellis-core[django]",' in hq, "a private service is never rewritten"


def test_an_interrupted_upload_resumes_and_skips_what_is_already_there(repo: Path) -> None:
    _change(repo, "packages/trellis-demo")
    journal, log = _release(repo, stop_after="checked")
    assert journal is not None and journal.package("trellis-demo").state == "checked"
    assert "Stopped after 'checked'" in log[-1]
    wheel = repo / "dist/trellis-demo/trellis_demo-0.4.1-py3-none-any.whl"
    with local_index(repo / ".release" / "index") as index:
        upload(index, [wheel])  # the run died after twine sent the wheel, before the sdist

    journal, log = _release(repo)
    assert journal is not None and log[0].startswith(f"Resuming release {journal.id}")
    record = journal.package("trellis-demo")
    assert record.state == "tagged"
    assert record.skipped == [wheel.name]
    assert record.uploaded == ["trellis_demo-0.4.1.tar.gz"]
    assert [h["state"] for h in record.history] == STATES
    assert _release(repo)[0] is None, "and then there is nothing left to do"


def test_same_name_different_hash_on_the_index_stops_the_release(
    repo: Path, tmp_path: Path
) -> None:
    _change(repo, "packages/trellis-demo")
    _release(repo, stop_after="checked")
    other = fake_wheel(tmp_path / "other", "trellis-demo", "0.4.1", note="another build")
    shutil.copy2(other, repo / ".release/index" / other.name)

    with pytest.raises(ReleaseError) as caught:
        _release(repo)
    message = str(caught.value)
    assert f"{other.name} is already on http://127.0.0.1:" in message
    assert f"with sha256 {sha256(other)}" in message
    assert "A published file is never replaced" in message
    assert not (repo / ".release/index/trellis_demo-0.4.1.tar.gz").exists(), "nothing uploaded"
    journal = Journal.load(repo / ".release" / "journal.json")
    assert journal is not None and journal.package("trellis-demo").state == "checked"
    assert "trellis-demo-v0.4.1" not in git(repo, "tag", "--list")


def test_a_squatted_trellis_package_on_a_second_index_is_never_picked_up(
    repo: Path, public_index: str
) -> None:
    _change(repo, "packages/trellis-demo")
    journal, _ = _release(repo, public=(public_index, PYPI))
    assert journal is not None
    resolved = {r["name"]: r for r in journal.package("trellis-demo").proof["resolved"]}
    core = resolved["trellis-core"]
    assert (core["version"], core["origin"]) == ("0.2.0", "release index")
    assert all(f["url"].startswith("http://127.0.0.1:") for f in core["files"])
    assert public_index not in str(core)
    venv = repo / ".release/venvs/trellis-demo"
    shown = subprocess.run(
        [str(venv_bin(venv, "python")), "-c", "import trellis.core; print(trellis.core.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "fake_payload" not in shown.stdout

    # The squatter is a live threat: a resolver that merges indexes (pip's --extra-index-url
    # behaviour) takes it, because 0.9.0 satisfies trellis-core>=0.2,<1 and is higher.
    with local_index(repo / ".release" / "index") as index:
        naive = subprocess.run(
            [
                *tool("uv"),
                "pip",
                "compile",
                "--no-config",
                "--quiet",
                "--no-header",
                "--index-strategy",
                "unsafe-best-match",
                "--index",
                index.simple,
                "--index",
                public_index,
                "--default-index",
                PYPI,
                "-",
            ],
            input="trellis-demo==0.4.1\n",
            capture_output=True,
            text=True,
            check=True,
        )
    assert "trellis-core==0.9.0" in naive.stdout


def _sdist_squatter(directory: Path, marker: Path) -> None:
    """A public ``trellis-core 0.9.0`` sdist whose setup.py leaves ``marker`` when it runs."""
    setup = (
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('squatter code ran')\n"
        "from setuptools import setup\n"
        "setup(name='trellis-core', version='0.9.0', install_requires=['pluggy'])\n"
    )
    files = {
        "setup.py": setup,
        "PKG-INFO": "Metadata-Version: 1.0\nName: trellis-core\nVersion: 0.9.0\n",
    }
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(directory / "trellis_core-0.9.0.tar.gz", "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"trellis_core-0.9.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_a_sibling_missing_from_the_release_index_is_refused_before_uv_runs_anything(
    released: Released, tmp_path: Path
) -> None:
    repo = released.repo
    demo = released.journal.package("trellis-demo")
    only_demo = tmp_path / "only-demo"
    only_demo.mkdir()
    for filename in demo.files:
        shutil.copy2(repo / ".release/index" / filename, only_demo / filename)
    marker = tmp_path / "squatter-ran"
    _sdist_squatter(tmp_path / "public", marker)
    workspace = load_workspace(repo)
    work = tmp_path / "work"
    work.mkdir()
    target = Target(workspace.projects["trellis-demo"], Version(demo.version), demo.files)
    python = Path(sys.executable)
    with (
        local_index(only_demo) as index,
        local_index(tmp_path / "public") as public,
        pytest.raises(ReleaseError) as caught,
    ):
        resolve(target, index, [public.simple, PYPI], workspace, work, python)
    message = str(caught.value)
    assert "dependency confusion refused" in message
    assert "trellis-core (required by trellis-demo as >=0.2,<1)" in message
    assert f"the release index {index.simple} has no wheel of it that satisfies that" in message
    assert not marker.exists(), "the public sdist's code never ran"
    assert not (work / "pylock.toml").exists(), "refused before uv resolved anything"


def test_verification_never_builds_an_in_repo_name_from_an_sdist(
    released: Released, tmp_path: Path
) -> None:
    """A higher trellis-core is on the release index as an sdist only: uv must not build it."""
    repo = released.repo
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    for name in ("trellis-core", "trellis-demo"):
        for filename in released.journal.package(name).files:
            shutil.copy2(repo / ".release/index" / filename, index_dir / filename)
    marker = tmp_path / "sdist-ran"
    _sdist_squatter(tmp_path / "sdist", marker)
    shutil.copy2(tmp_path / "sdist/trellis_core-0.9.0.tar.gz", index_dir)
    workspace = load_workspace(repo)
    work = tmp_path / "work"
    work.mkdir()
    demo = released.journal.package("trellis-demo")
    target = Target(workspace.projects["trellis-demo"], Version(demo.version), demo.files)
    with local_index(index_dir) as index:
        resolved = resolve(target, index, [PYPI], workspace, work, Path(sys.executable))
    assert {r["name"]: r["version"] for r in resolved}["trellis-core"] == "0.2.0"
    assert not marker.exists(), "no sdist is built during verification"


def test_a_package_failing_verification_is_not_tagged_and_is_released_again_fixed(
    repo: Path,
) -> None:
    _change(repo, "packages/trellis-core", "feature")
    plugin = repo / "packages/trellis-demo/src/trellis/demo/plugin.py"
    good = plugin.read_text(encoding="utf-8")
    plugin.write_text(good.replace('{"core": ">=1.0,<2"}', '{"core": ">=7,<8"}'), encoding="utf-8")
    fragment(repo, "packages/trellis-demo", "+oops.fix.md", "Oops.")
    commit(repo, "break the demo's contract range")

    with pytest.raises(ReleaseError) as caught:
        _release(repo)
    assert "trellis-demo: `trellis plugins` shows plugin 'demo'" in str(caught.value)
    assert "expected active at 0.4.1" in str(caught.value)
    journal = Journal.load(repo / ".release" / "journal.json")
    assert journal is not None
    assert journal.package("trellis-core").state == "tagged", "core is fine: it is tagged"
    assert journal.package("trellis-demo").state == "uploaded"
    assert "trellis-demo-v0.4.1" not in git(repo, "tag", "--list")

    # The documented recovery: give the release up, fix, add a fragment, release again.
    # 0.4.1 is on the index and stays there, burned: the fix becomes 0.4.2.
    told: list[str] = []
    assert abandon(Options(root=repo, log=told.append)) is not None
    assert "Keep the release commit" in told[0]
    assert "It consumed the changelog fragments of trellis-demo: add a new fragment" in told[0]
    assert "Push it with its tags: git push --atomic --follow-tags origin main" in told[0]
    plugin.write_text(good + "\n# fixed\n", encoding="utf-8")
    fragment(repo, "packages/trellis-demo", "+range.fix.md", "Declare the right range.")
    commit(repo, "fix the demo")
    journal, _ = _release(repo)
    assert journal is not None
    assert [(p.name, p.previous, p.version) for p in journal.packages] == [
        ("trellis-demo", "0.4.1", "0.4.2")
    ]
    assert journal.package("trellis-demo").state == "tagged"


def test_a_fresh_checkout_releases_a_leaf_with_its_released_sibling_seeded_from_its_tag(
    make_repo: Callable[..., Path],
) -> None:
    """trellis-core 0.1.0 was released before (tagged here); the local index starts empty.

    Core changed since (unreleased work, with its fragment) and only the demo is released:
    the seeded core must be the tagged 0.1.0, not this checkout's core labelled 0.1.0.
    """
    repo = make_repo(fragments=False)
    git(repo, "tag", "-a", "trellis-core-v0.1.0", "-m", "released elsewhere")
    cli = repo / "packages/trellis-core/src/trellis/core/_cli.py"
    cli.write_text(cli.read_text(encoding="utf-8") + "\nUNRELEASED = True\n", encoding="utf-8")
    fragment(repo, "packages/trellis-core", "+wip.feature.md", "Unreleased core work.")
    commit(repo, "core work in progress")
    _change(repo, "packages/trellis-demo", "feature")
    journal, log = _release(repo, only=frozenset({"trellis-demo"}))
    assert journal is not None
    assert [(p.name, p.version) for p in journal.packages] == [("trellis-demo", "0.4.0")]
    assert any("seeded the local index with trellis-core 0.1.0" in line for line in log)
    resolved = {r["name"]: r for r in journal.package("trellis-demo").proof["resolved"]}
    assert (resolved["trellis-core"]["version"], resolved["trellis-core"]["origin"]) == (
        "0.1.0",
        "release index",
    )
    (wheel,) = (repo / ".release/index").glob("trellis_core-0.1.0-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "UNRELEASED" not in archive.read("trellis/core/_cli.py").decode()
    assert git(repo, "status", "--porcelain") == ""


def test_a_release_index_that_needs_credentials_to_download_is_verified_with_them(
    released: Released, tmp_path: Path
) -> None:
    """Listing and downloading need the credentials: uv's resolution *and* its install."""
    directory = tmp_path / "private"
    directory.mkdir()
    for record in released.journal.packages:
        for filename in record.files:
            shutil.copy2(released.repo / ".release/index" / filename, directory / filename)
    workspace = load_workspace(released.repo)
    demo = released.journal.package("trellis-demo")
    target = Target(workspace.projects["trellis-demo"], Version(demo.version), demo.files)
    with private_index(directory, "reader", "s3cret") as base:
        with pytest.raises(ReleaseError, match="401"):
            project_files(Index(f"{base}simple/", base), "trellis-demo")
        index = Index(f"{base}simple/", base, "reader", "s3cret")
        proof = verify(target, index, [PYPI], workspace, tmp_path / "state")
    assert proof["plugins"] == [{"name": "demo", "version": "0.4.0", "status": "active"}]
    assert "s3cret" not in json.dumps(proof), "no credentials in the proof or the lock"
    lock = (tmp_path / "state/verify/trellis-demo/pylock.toml").read_text(encoding="utf-8")
    assert "s3cret" not in lock and "reader@" not in lock
