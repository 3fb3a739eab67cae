"""Builds are reproducible: the build uses the pinned backend, whatever the environment says."""

from __future__ import annotations

import os
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.version import Version

from tools.release import ReleaseError, _build, load_workspace
from tools.release._build import build, check_built
from tools.release._proc import tool

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
    pins = [line for line in text.splitlines() if "==" in line and not line.startswith("#")]
    for pin in pins:
        after = text[text.index(pin) + len(pin) :].lstrip(" \\\n")
        assert after.startswith("--hash=sha256:"), f"{pin} is pinned without a hash"
    source = _build.BUILD_CONSTRAINTS.with_name("build-requirements.in").read_text("utf-8")
    assert f"hatchling=={_build.pinned_backend()[1]}" in source.splitlines(), "one source of truth"


def _hashed_constraints(path: Path, *pins: str) -> Path:
    """Constraints pinning ``pins`` and their dependencies by hash, as uv writes them."""
    source = path.with_suffix(".in")
    source.write_text("\n".join(pins) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    subprocess.run(
        [
            *tool("uv"),
            *("pip", "compile", "--quiet", "--no-config", "--universal"),
            *("--python-version", "3.11", "--generate-hashes", str(source), "-o", str(path)),
        ],
        env=env,
        check=True,
    )
    return path


def test_the_build_uses_the_pinned_backend_and_the_check_refuses_another(
    make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo()
    project = load_workspace(repo).projects["trellis-demo"]
    older = _hashed_constraints(tmp_path / "older.txt", "hatchling==1.27.0")
    monkeypatch.setattr(_build, "BUILD_CONSTRAINTS", older)
    files = build(project, tmp_path / "out")
    wheel = next(f for f in files if f.name.endswith(".whl"))
    assert _generator(wheel) == "Generator: hatchling 1.27.0"
    check_built(project, files, Version("0.3.0"), {})  # what the constraints pin

    monkeypatch.undo()
    with pytest.raises(ReleaseError, match=r"built by hatchling 1\.27\.0, but .* pins hatchling"):
        check_built(project, files, Version("0.3.0"), {})


def test_constraints_without_hashes_are_refused_before_anything_is_built(
    make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = load_workspace(make_repo()).projects["trellis-demo"]
    unhashed = tmp_path / "build-constraints.txt"
    unhashed.write_text(f"hatchling=={_build.pinned_backend()[1]}\n", encoding="utf-8")
    monkeypatch.setattr(_build, "BUILD_CONSTRAINTS", unhashed)
    with pytest.raises(ReleaseError) as caught:
        build(project, tmp_path / "out")
    assert f"{unhashed} pins the build tools without --hash=sha256: lines" in str(caught.value)
    assert list((tmp_path / "out").iterdir()) == []
