"""The build ignores the caller's index settings, pins its backend by hash, and holds no secret.

A look-alike ``hatchling`` of the pinned version waits on a real local index (pypiserver); its
import leaves a marker with the ``TWINE_PASSWORD`` it could read. The caller's uv/pip variables
and configuration files point at that index: the build must never run it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from release_testkit import wheel_with_files

from tools.release import ReleaseError, load_workspace, local_index
from tools.release._build import build, pinned_backend
from tools.release._workspace import Project

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("release_tools")]

SECRETS = {
    "TWINE_USERNAME": "release-bot",
    "TWINE_PASSWORD": "secret",
    "TRELLIS_DEPLOY_TOKEN": "token-value",
    "DATABASE_PASSWORD": "db-secret",
}


def _lookalike(directory: Path, marker: Path) -> Path:
    """A ``hatchling`` wheel of the pinned version whose code leaves ``marker`` when it runs."""
    payload = (
        "import os, pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text("
        "'look-alike hatchling ran; TWINE_PASSWORD=' + os.environ.get('TWINE_PASSWORD', '-'))\n"
    )
    _, version = pinned_backend()
    return wheel_with_files(
        directory,
        "hatchling",
        version,
        {
            "hatchling/__init__.py": payload,
            "hatchling/build.py": "import hatchling\n",
            "hatchling_lookalike.pth": "import hatchling\n",
        },
    )


def _demo(make_repo: Callable[..., Path]) -> Project:
    return load_workspace(make_repo()).projects["trellis-demo"]


def _generator(files: list[Path]) -> str:
    wheel = next(f for f in files if f.name.endswith(".whl"))
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/WHEEL")]
        text = archive.read(name).decode()
    return next(line for line in text.splitlines() if line.startswith("Generator: "))


def _ran(marker: Path) -> str:
    return marker.read_text(encoding="utf-8") if marker.exists() else ""


def _build(project: Project, out: Path) -> list[Path] | ReleaseError:
    """The built files, or the refusal: either is fine as long as the look-alike never ran."""
    try:
        return build(project, out)
    except ReleaseError as refused:
        return refused


def test_the_callers_index_variables_never_bring_a_lookalike_backend_into_the_build(
    make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _demo(make_repo)
    marker = tmp_path / "lookalike-ran"
    _lookalike(tmp_path / "lookalike", marker)
    with local_index(tmp_path / "lookalike") as lookalike:
        for key in ("UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
            monkeypatch.setenv(key, lookalike.simple)
        for key, value in SECRETS.items():
            monkeypatch.setenv(key, value)
        files = _build(project, tmp_path / "out")
    assert not marker.exists(), _ran(marker)
    assert not isinstance(files, ReleaseError), files
    assert _generator(files) == "Generator: {} {}".format(*pinned_backend()), "the real one"


def test_the_callers_uv_and_pip_config_files_never_bring_a_lookalike_backend_into_the_build(
    make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _demo(make_repo)
    marker = tmp_path / "lookalike-ran"
    _lookalike(tmp_path / "lookalike", marker)
    with local_index(tmp_path / "lookalike") as lookalike:
        uv_toml = f'index-url = "{lookalike.simple}"\nextra-index-url = ["{lookalike.simple}"]\n'
        (tmp_path / "uv.toml").write_text(uv_toml, encoding="utf-8")
        (tmp_path / "xdg/uv").mkdir(parents=True)
        (tmp_path / "xdg/uv/uv.toml").write_text(uv_toml, encoding="utf-8")
        pip_conf = (
            f"[global]\nindex-url = {lookalike.simple}\nextra-index-url = {lookalike.simple}\n"
        )
        (tmp_path / "pip.conf").write_text(pip_conf, encoding="utf-8")
        monkeypatch.setenv("UV_CONFIG_FILE", str(tmp_path / "uv.toml"))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "pip.conf"))
        monkeypatch.setenv("TWINE_PASSWORD", "secret")
        files = _build(project, tmp_path / "out")
    assert not marker.exists(), _ran(marker)
    assert not isinstance(files, ReleaseError), files
    assert _generator(files) == "Generator: {} {}".format(*pinned_backend()), "the real one"


def test_a_lookalike_of_the_pinned_version_on_the_build_index_is_refused_by_its_hash(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    project = _demo(make_repo)
    marker = tmp_path / "lookalike-ran"
    wheel = _lookalike(tmp_path / "lookalike", marker)
    with local_index(tmp_path / "lookalike") as lookalike, pytest.raises(ReleaseError) as caught:
        build(project, tmp_path / "out", index_url=lookalike.simple)
    message = str(caught.value)
    assert not marker.exists(), _ran(marker)
    assert "build of trellis-demo" in message
    assert "hash" in message.lower() and "hatchling" in message, message
    assert "build-constraints.txt" in message, "says which pins refused it"
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert wheel.is_file()


def test_a_build_requirement_without_a_pinned_hash_is_refused(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    project = _demo(make_repo)
    pyproject = project.pyproject.read_text(encoding="utf-8")
    project.pyproject.write_text(
        pyproject.replace(
            'requires = ["hatchling>=1.26"]', 'requires = ["hatchling>=1.26", "six"]'
        ),
        encoding="utf-8",
    )
    with pytest.raises(ReleaseError) as caught:
        build(project, tmp_path / "out")
    message = str(caught.value)
    assert "build of trellis-demo" in message
    assert "six" in message and "hash" in message.lower(), message


def test_no_credential_reaches_the_build_environment(
    make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package's own build hook records what environment the build gave it."""
    project = _demo(make_repo)
    seen = tmp_path / "build-environment.json"
    hook = (
        "import json, os, pathlib\n"
        "from hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\n\n"
        "class Record(BuildHookInterface):\n"
        "    def initialize(self, version, build_data):\n"
        f"        pathlib.Path({str(seen)!r}).write_text(json.dumps(dict(os.environ)))\n"
    )
    (project.path / "hatch_build.py").write_text(hook, encoding="utf-8")
    with project.pyproject.open("a", encoding="utf-8") as handle:
        handle.write("\n[tool.hatch.build.hooks.custom]\n")
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    callers = {"UV_EXTRA_INDEX_URL": "http://127.0.0.1:9/uv/", "PIP_FIND_LINKS": "/nowhere/pip"}
    for key, value in callers.items():
        monkeypatch.setenv(key, value)
    build(project, tmp_path / "out")
    environment = json.loads(seen.read_text(encoding="utf-8"))
    leaked = sorted(k for k in environment if k in SECRETS or k.startswith("TWINE_"))
    assert leaked == [], f"the build saw {leaked}"
    assert not set(environment.values()) & {*SECRETS.values(), *callers.values()}
