"""Fixtures for the release tooling tests (helpers in ``release_testkit.py`` beside this)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release_testkit import GIT_ENV, Released, new_repo

from tools.release import Options, ReleaseError, release
from tools.release._proc import tool

TOOLS = ("twine", "towncrier", "pypi-server", "uv")


@pytest.fixture(scope="session", autouse=True)
def _release_test_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A git identity for commits and tags, and no release index from the caller's shell."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in GIT_ENV.items():
            patch.setenv(key, value)
        for key in ("TRELLIS_RELEASE_INDEX_URL", "TRELLIS_RELEASE_PUBLIC_INDEX_URL"):
            patch.delenv(key, raising=False)
        yield


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """``make_repo(name="repo", fragments=True)``: :func:`new_repo` under ``tmp_path``."""

    def make(name: str = "repo", *, fragments: bool = True) -> Path:
        return new_repo(tmp_path / name, fragments=fragments)

    return make


@pytest.fixture(scope="session")
def release_tools() -> None:
    """The tools the pipeline runs; missing ones skip locally and fail under CI."""
    missing = []
    for name in TOOLS:
        try:
            tool(name)
        except ReleaseError:
            missing.append(name)
    if missing:
        message = (
            f"release tools not installed: {', '.join(missing)} "
            "(install the 'release' dependency group, e.g. run through `nox -s tests`)"
        )
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def released(tmp_path_factory: pytest.TempPathFactory, release_tools: None) -> Released:
    """One first release (trellis-core 0.2.0, trellis-demo 0.4.0) into a local pypiserver.

    Tests copy the repository (:func:`release_testkit.copy_repo`) and go on from there.
    """
    repo = new_repo(tmp_path_factory.mktemp("released") / "repo")
    log: list[str] = []
    journal = release(Options(root=repo, log=log.append))
    assert journal is not None, log
    return Released(repo, journal, log)
