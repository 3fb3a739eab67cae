"""trellis-core's wheel installs into an empty venv with its declared dependencies only.

Builds the wheel from this checkout, installs it with the venv's own pip (dependencies come
from the configured index) and runs the ``trellis`` command there: no Django needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from trellis.core.testing import build_wheel, clean_environ, venv_python

pytestmark = pytest.mark.slow

CORE = Path(__file__).resolve().parents[1]


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        env=clean_environ(),
        cwd=cwd,
        timeout=600,
        check=False,
    )


def _installed(python: Path, cwd: Path) -> dict[str, str]:
    result = _run(
        python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check", cwd=cwd
    )
    assert result.returncode == 0, result.stderr
    return {canonicalize_name(p["name"]): p["version"] for p in json.loads(result.stdout)}


def _wheel_metadata(wheel: Path) -> tuple[str, list[Requirement]]:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = HeaderParser().parsestr(archive.read(name).decode("utf-8"))
    requirements = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    # Only what a plain install pulls in: requirements without an extra marker.
    plain = [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]
    return metadata["Name"], plain


def test_wheel_installs_with_declared_dependencies_only_and_trellis_runs(tmp_path: Path) -> None:
    wheel = build_wheel(CORE, tmp_path / "dist")
    name, requirements = _wheel_metadata(wheel)
    assert canonicalize_name(name) == "trellis-core"
    declared = {canonicalize_name(r.name) for r in requirements}
    assert declared, "trellis-core declares its dependencies (pluggy, packaging)"
    assert "django" not in declared, "Django belongs in the 'django' extra"

    venv = tmp_path / "venv"
    created = _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)  # with pip, no packages
    assert created.returncode == 0, created.stderr
    python = venv_python(venv)
    bootstrap = set(_installed(python, tmp_path))
    assert bootstrap <= {"pip", "setuptools", "wheel"}, bootstrap

    installed = _run(
        python,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        wheel,
        cwd=tmp_path,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    packages = _installed(python, tmp_path)
    assert set(packages) == bootstrap | {"trellis-core"} | declared
    for requirement in requirements:
        assert requirement.specifier.contains(
            packages[canonicalize_name(requirement.name)], prereleases=True
        ), requirement
    assert "django" not in packages
    no_django = _run(
        python, "-c", "import importlib.util as u; print(u.find_spec('django'))", cwd=tmp_path
    )
    assert no_django.stdout.strip() == "None", no_django.stdout + no_django.stderr

    trellis = venv / ("Scripts/trellis.exe" if python.suffix == ".exe" else "bin/trellis")
    listing = _run(trellis, "plugins", cwd=tmp_path)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    rows = [line.split() for line in listing.stdout.splitlines()]
    assert rows[0][:2] == ["NAME", "DISTRIBUTION"]
    core = [row for row in rows[1:] if row[0] == "core"]
    assert core, listing.stdout
    assert core[0][1:3] == ["trellis-core", packages["trellis-core"]]
    assert core[0][-1] == "active"

    check = _run(trellis, "check", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.startswith("ok: 1 plugin(s) active"), check.stdout
