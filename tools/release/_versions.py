"""Versions: reading and writing a project's version source, bumps and sibling pins.

A project's version lives either in a file named by ``[tool.hatch.version] path`` (hatch's
regex source; ``pattern`` may override the default) or statically in ``[project] version``.
Files are edited in place with the smallest possible change, so formatting and comments stay:
a version file the way hatchling's own ``VersionFile`` does it (the ``version`` group of the
pattern is replaced), ``pyproject.toml`` with tomlkit, which keeps every byte outside the
values it changes.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from tomlkit.items import String, StringType

from ._errors import ReleaseError

Bump = Literal["major", "minor", "patch"]
BUMPS: tuple[Bump, ...] = ("patch", "minor", "major")

# hatch's default pattern for the regex version source
HATCH_DEFAULT_PATTERN = r"(?i)^(__version__|VERSION) *= *([\'\"])v?(?P<version>.+?)\2"


@dataclass(frozen=True, slots=True)
class VersionSource:
    """Where a project's version is written: ``file`` (relative to the project) or static."""

    file: str | None
    pattern: str

    def describe(self) -> str:
        return self.file if self.file else "pyproject.toml [project] version"


def version_source(pyproject: dict[str, Any], where: Path) -> VersionSource:
    """The version source declared by a parsed ``pyproject.toml`` at ``where``.

    :raises ReleaseError: the version is dynamic without a hatch ``path``, or static and absent.
    """
    project = pyproject.get("project", {})
    if "version" in project.get("dynamic", []):
        config = pyproject.get("tool", {}).get("hatch", {}).get("version", {})
        path = config.get("path")
        if not isinstance(path, str):
            raise ReleaseError(
                f"{where}: the version is dynamic but [tool.hatch.version] has no 'path'; the "
                "release tooling writes versions to a hatch 'path' source (e.g. "
                'path = "src/trellis/<name>/_version.py") or to a static [project] version'
            )
        pattern = config.get("pattern")
        # as hatchling: no pattern, an empty one or `true` mean its default
        return VersionSource(
            path, pattern if isinstance(pattern, str) and pattern else HATCH_DEFAULT_PATTERN
        )
    if "version" not in project:
        raise ReleaseError(f"{where}: [project] has neither 'version' nor dynamic = ['version']")
    return VersionSource(None, "")


def read_version(folder: Path, source: VersionSource) -> Version:
    """The version currently written in ``folder`` by ``source``.

    :raises ReleaseError: the file or the version string is missing or not PEP 440.
    """
    if source.file is None:
        path = folder / "pyproject.toml"
        raw = tomllib.loads(_read(path)).get("project", {}).get("version")
        if not isinstance(raw, str):
            raise ReleaseError(f"{path}: [project] version must be a string, not {raw!r}")
    else:
        path, _, match = _locate(folder, source)
        raw = match.group("version")
    try:
        return Version(raw)
    except InvalidVersion as exc:
        raise ReleaseError(f"{path}: version {raw!r} is not a PEP 440 version") from exc


def write_version(folder: Path, source: VersionSource, version: Version) -> Path:
    """Write ``version`` into ``folder``'s version source; return the file written."""
    if source.file is None:
        path = folder / "pyproject.toml"
        document = tomlkit.parse(_read(path))
        project = document["project"]
        project["version"] = _string_like(project["version"], str(version))
        path.write_text(tomlkit.dumps(document), encoding="utf-8")
        return path
    path, text, match = _locate(folder, source)
    start, end = match.span("version")
    path.write_text(text[:start] + str(version) + text[end:], encoding="utf-8")
    return path


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ReleaseError(f"version file {path} does not exist; fix [tool.hatch.version]") from exc


def _locate(folder: Path, source: VersionSource) -> tuple[Path, str, re.Match[str]]:
    """The version file of a hatch ``path`` source, its text, and the pattern's match in it."""
    assert source.file is not None
    path = folder / source.file
    text = _read(path)
    match = re.search(source.pattern, text, flags=re.MULTILINE)
    if match is None or "version" not in match.groupdict():
        raise ReleaseError(
            f"{path}: no version found with pattern {source.pattern!r}; write it as "
            '__version__ = "X.Y.Z"'
        )
    return path, text, match


def _string_like(old: object, value: str) -> String:
    """A TOML string holding ``value``, quoted like ``old`` unless that would need escapes."""
    literal = isinstance(old, String) and old.type in (StringType.SLL, StringType.MLL)
    if literal and "'" in value:
        literal = False
    elif not literal and '"' in value and "'" not in value:
        literal = True  # 'x; python_version >= "3.11"' rather than "...\"3.11\""
    return tomlkit.string(value, literal=literal)


def _three(version: Version) -> tuple[int, int, int]:
    major, minor, patch = (*version.release, 0, 0)[:3]
    return major, minor, patch


def bump(version: Version, level: Bump) -> Version:
    """``version`` bumped by ``level`` (semver: major resets minor and patch, and so on).

    Pre-release, post-release and local parts are dropped; a 0.x version gets a real major
    bump too (a breaking change makes 0.4.1 into 1.0.0), so pins stay ``>=X.Y,<X+1``.
    """
    major, minor, patch = _three(version)
    if level == "major":
        return Version(f"{major + 1}.0.0")
    if level == "minor":
        return Version(f"{major}.{minor + 1}.0")
    return Version(f"{major}.{minor}.{patch + 1}")


def pin(version: Version) -> str:
    """The specifier a sibling uses to require ``version``: ``>=1.3,<2`` or ``>=1.3.1,<2``."""
    major, minor, patch = _three(version)
    low = f"{major}.{minor}" if patch == 0 else f"{major}.{minor}.{patch}"
    return f">={low},<{major + 1}"


def pinned_requirement(requirement: str, version: Version) -> str:
    """``requirement`` with its version specifier replaced by :func:`pin` of ``version``.

    Extras and markers are kept: ``trellis-core[django]; python_version>='3.11'`` becomes
    ``trellis-core[django]>=1.3,<2; python_version >= "3.11"``.
    """
    parsed = parse_requirement(requirement)
    extras = f"[{','.join(sorted(parsed.extras))}]" if parsed.extras else ""
    marker = f"; {parsed.marker}" if parsed.marker else ""
    return f"{parsed.name}{extras}{pin(version)}{marker}"


def parse_requirement(requirement: str) -> Requirement:
    try:
        return Requirement(requirement)
    except InvalidRequirement as exc:
        raise ReleaseError(f"{requirement!r} is not a valid requirement: {exc}") from exc


def rewrite_requirements(pyproject: Path, versions: dict[str, Version]) -> dict[str, str]:
    """Pin every requirement on a name in ``versions`` to that version, in place.

    Looks at ``[project] dependencies`` and ``optional-dependencies`` only (the same string in
    another table, say ``[dependency-groups]``, is not a requirement of the package). Each
    requirement is replaced where it is written, in the same quotes where it can be: the rest
    of the file stays byte for byte.

    :return: old requirement string → new one, for the requirements that changed.
    """
    document = tomlkit.parse(pyproject.read_text(encoding="utf-8"))
    project: Any = document.get("project", {})
    arrays: list[Any] = [project["dependencies"]] if "dependencies" in project else []
    arrays.extend(project.get("optional-dependencies", {}).values())
    changes: dict[str, str] = {}
    for array in arrays:
        for i, item in enumerate(list(array)):
            old = str(item)
            name = canonicalize_name(parse_requirement(old).name)
            if name not in versions:
                continue
            new = pinned_requirement(old, versions[name])
            if new != old:
                array[i] = _string_like(item, new)
                changes[old] = new
    if changes:
        pyproject.write_text(tomlkit.dumps(document), encoding="utf-8")
    return changes
