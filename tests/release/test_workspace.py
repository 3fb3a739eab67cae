"""Discovering projects, their in-repo requirements, dependents and release order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from release_testkit import ROOT

from tools.release import ReleaseError, load_workspace


def _project(root: Path, folder: str, name: str, deps: list[str], *, private: bool = False) -> None:
    path = root / folder
    path.mkdir(parents=True)
    listed = ", ".join(f'"{d}"' for d in deps)
    trellis = '\n[tool.trellis]\nowners = ["@o/t"]\n' + ("private = true\n" if private else "")
    (path / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1.0.0"\ndependencies = [{listed}]\n{trellis}',
        encoding="utf-8",
    )


def test_this_repository_is_discovered() -> None:
    workspace = load_workspace(ROOT)
    core = workspace.project("trellis_core")
    assert core.folder == "packages/trellis-core"
    assert core.import_name == "trellis.core"
    assert core.owners
    hq = workspace.project("trellis-hq")
    assert hq.private
    assert "trellis-core" in hq.requires


def test_order_puts_requirements_first_and_dependents_follow(tmp_path: Path) -> None:
    _project(tmp_path, "packages/a", "trellis-a", ["trellis-core>=1"])
    _project(tmp_path, "packages/core", "trellis-core", ["pluggy"])
    _project(tmp_path, "packages/b", "trellis-b", ["trellis-a", "trellis-core"])
    _project(tmp_path, "services/svc", "svc", ["trellis-b"], private=True)
    workspace = load_workspace(tmp_path)
    assert workspace.order(["trellis-b", "trellis-a", "trellis-core"]) == [
        "trellis-core",
        "trellis-a",
        "trellis-b",
    ]
    assert workspace.affected(["trellis-a"]) == {
        "trellis-a": frozenset(),
        "trellis-b": frozenset({"trellis-a"}),
        "svc": frozenset({"trellis-a"}),
    }


def test_a_cycle_is_an_error_naming_the_packages(tmp_path: Path) -> None:
    _project(tmp_path, "packages/a", "trellis-a", ["trellis-b"])
    _project(tmp_path, "packages/b", "trellis-b", ["trellis-a"])
    _project(tmp_path, "packages/c", "trellis-c", ["trellis-a"])
    with pytest.raises(ReleaseError) as caught:
        load_workspace(tmp_path).order(["trellis-a", "trellis-b", "trellis-c"])
    message = str(caught.value)
    assert "the in-repo requirements of trellis-a, trellis-b form a cycle" in message
    assert "trellis-c" not in message, "it waits on the cycle but is not part of it"


def test_a_public_package_may_not_require_a_private_one(tmp_path: Path) -> None:
    _project(tmp_path, "packages/a", "trellis-a", ["svc"])
    _project(tmp_path, "services/svc", "svc", [], private=True)
    with pytest.raises(ReleaseError, match="trellis-a requires svc, which is private"):
        load_workspace(tmp_path)


def test_two_folders_with_one_name_is_an_error(tmp_path: Path) -> None:
    _project(tmp_path, "packages/a", "trellis-a", [])
    _project(tmp_path, "services/a", "trellis_a", [])
    with pytest.raises(ReleaseError, match="both declare the distribution"):
        load_workspace(tmp_path)


def test_a_missing_contract_suite_file_is_an_error(make_repo: Callable[..., Path]) -> None:
    repo = make_repo()
    suite = repo / "packages/trellis-demo/tests/test_contract.py"
    suite.unlink()
    with pytest.raises(ReleaseError, match=r"contract-suite names 'tests/test_contract.py'"):
        load_workspace(repo)


def test_a_service_names_its_django_settings_for_the_smoke_test():
    workspace = load_workspace(ROOT)
    assert workspace.project("trellis-blobs-service").django_settings == "blobs_service.settings"
    assert workspace.project("trellis-blobs-service").smoke_random == ("TRELLIS_REMOTE_SECRET",)
    assert workspace.project("trellis-blobs").django_settings is None
