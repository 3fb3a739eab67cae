"""Builds are reproducible: hatch builds with the pinned backend, whatever the environment says."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.version import Version

from tools.release import ReleaseError, _build, load_workspace
from tools.release._build import build, check_built

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("release_tools")]


def _generator(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/WHEEL")]
        text = archive.read(name).decode()
    return next(line for line in text.splitlines() if line.startswith("Generator: "))


def test_the_build_backend_is_pinned_by_the_release_constraints() -> None:
    text = _build.BUILD_CONSTRAINTS.read_text(encoding="utf-8")
    assert "hatchling==" in text and "packaging==" in text
    assert _build.pinned_backend() == ("hatchling", text.split("hatchling==")[1].split()[0])


def test_hatch_builds_with_the_pinned_backend_and_the_check_refuses_another(
    make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo()
    project = load_workspace(repo).projects["trellis-demo"]
    older = tmp_path / "older.txt"
    older.write_text("hatchling==1.27.0\n", encoding="utf-8")
    monkeypatch.setattr(_build, "BUILD_CONSTRAINTS", older)
    files = build(project, tmp_path / "out")
    wheel = next(f for f in files if f.name.endswith(".whl"))
    assert _generator(wheel) == "Generator: hatchling 1.27.0"
    check_built(project, files, Version("0.3.0"), {})  # what the constraints pin

    monkeypatch.undo()
    with pytest.raises(ReleaseError, match=r"built by hatchling 1\.27\.0, but .* pins hatchling"):
        check_built(project, files, Version("0.3.0"), {})
