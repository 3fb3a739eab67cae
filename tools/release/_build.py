"""Building each package with hatch, checking what was built, and ``twine check --strict``."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from ._errors import ReleaseError
from ._index import sha256
from ._proc import ENVIRONMENT_TARGETS, environ, run, tool
from ._workspace import Project


def dist_dir(root: Path, name: str) -> Path:
    """Where a package's files are built: ``dist/<dist>/``."""
    return root / "dist" / name


def build(project: Project, out: Path) -> list[Path]:
    """``hatch build`` one package (sdist and wheel) into an emptied ``out``.

    Hatch builds in its own isolated build environment; packages never see each other.
    """
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    run(
        [*tool("hatch"), "build", "--target", "sdist", "--target", "wheel", str(out)],
        cwd=project.path,
        env=environ(drop_prefixes=ENVIRONMENT_TARGETS),
        what=f"hatch build of {project.name}",
        timeout=900,
    )
    return sorted(out.iterdir())


def build_many(projects: Sequence[Project], root: Path, *, jobs: int = 2) -> dict[str, list[Path]]:
    """Build several packages, ``jobs`` at a time (each build is its own process)."""
    if not projects:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(projects)))) as pool:
        futures = {p.name: pool.submit(build, p, dist_dir(root, p.name)) for p in projects}
        return {name: future.result() for name, future in futures.items()}


def check_built(
    project: Project, files: Sequence[Path], version: Version, pins: Mapping[str, str]
) -> dict[str, str]:
    """Check that hatch built one sdist and one wheel of ``version`` with the planned pins.

    :return: filename → sha256.
    :raises ReleaseError: naming the file, what it says and what was planned.
    """
    wheels = [f for f in files if f.name.endswith(".whl")]
    sdists = [f for f in files if f.name.endswith(".tar.gz")]
    if len(wheels) != 1 or len(sdists) != 1 or len(files) != 2:
        raise ReleaseError(
            f"hatch built {[f.name for f in files]} for {project.name}; expected one sdist and "
            "one wheel — check [tool.hatch.build] targets"
        )
    name, wheel_version, *_ = parse_wheel_filename(wheels[0].name)
    sdist_name, sdist_version = parse_sdist_filename(sdists[0].name)
    metadata = _wheel_metadata(wheels[0])
    seen = {
        wheels[0].name: (canonicalize_name(name), wheel_version),
        sdists[0].name: (canonicalize_name(sdist_name), sdist_version),
        f"{wheels[0].name} METADATA": (
            canonicalize_name(metadata["Name"]),
            Version(metadata["Version"]),
        ),
        f"{sdists[0].name} PKG-INFO": _sdist_version(sdists[0]),
    }
    for where, (got_name, got_version) in seen.items():
        if got_name != project.name or got_version != version:
            raise ReleaseError(
                f"{where} says {got_name} {got_version}, but the plan releases {project.name} "
                f"{version}: the version source ({project.source.describe()}) and the build "
                "disagree — is the version hard-coded somewhere else?"
            )
    required = {
        canonicalize_name(r.name): r
        for r in map(Requirement, metadata.get_all("Requires-Dist") or [])
    }
    for sibling, spec in pins.items():
        requirement = required.get(canonicalize_name(sibling))
        if requirement is None or str(requirement.specifier) != str(
            Requirement(f"x{spec}").specifier
        ):
            raise ReleaseError(
                f"{wheels[0].name} requires {requirement or 'nothing of ' + sibling}, but the "
                f"plan pins {sibling}{spec}; the pyproject rewrite did not reach the build"
            )
    return {f.name: sha256(f) for f in (sdists[0], wheels[0])}


def _wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        if len(names) != 1:
            raise ReleaseError(f"{wheel.name} has {len(names)} METADATA files; expected one")
        return HeaderParser().parsestr(archive.read(names[0]).decode("utf-8"))


def _sdist_version(sdist: Path) -> tuple[str, Version]:
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.count("/") == 1]
        info = next((m for m in members if m.name.endswith("/PKG-INFO")), None)
        handle = archive.extractfile(info) if info else None
        if handle is None:
            raise ReleaseError(f"{sdist.name} has no top-level PKG-INFO")
        headers = HeaderParser().parsestr(handle.read().decode("utf-8"))
    return canonicalize_name(headers["Name"]), Version(headers["Version"])


def twine_check(files: Sequence[Path]) -> None:
    """``twine check --strict`` every file in one run.

    :raises ReleaseError: with twine's report of the failing files.
    """
    if files:
        run(
            [*tool("twine"), "check", "--strict", *map(str, files)],
            what="twine check --strict",
            timeout=300,
        )
