"""Versions: reading and writing a project's version source, bumps and sibling pins.

A project's version lives either in a file named by ``[tool.hatch.version] path`` (hatch's
regex source; ``pattern`` may override the default) or statically in ``[project] version``.
Files are edited in place with the smallest possible change, so formatting and comments stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ._errors import ReleaseError

Bump = Literal["major", "minor", "patch"]
BUMPS: tuple[Bump, ...] = ("patch", "minor", "major")

# hatch's default pattern for the regex version source
HATCH_DEFAULT_PATTERN = r"(?i)^(__version__|VERSION) *= *([\'\"])v?(?P<version>.+?)\2"
_STATIC = re.compile(r"(?m)^(?P<head>version\s*=\s*)(?P<q>[\"'])(?P<version>[^\"'\n]+)(?P=q)")


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
        return VersionSource(path, config.get("pattern", HATCH_DEFAULT_PATTERN))
    if "version" not in project:
        raise ReleaseError(f"{where}: [project] has neither 'version' nor dynamic = ['version']")
    return VersionSource(None, _STATIC.pattern)


def read_version(folder: Path, source: VersionSource) -> Version:
    """The version currently written in ``folder`` by ``source``.

    :raises ReleaseError: the file or the version string is missing or not PEP 440.
    """
    path, _, match = _locate(folder, source)
    raw = match.group("version")
    try:
        return Version(raw)
    except InvalidVersion as exc:
        raise ReleaseError(f"{path}: version {raw!r} is not a PEP 440 version") from exc


def write_version(folder: Path, source: VersionSource, version: Version) -> Path:
    """Write ``version`` into ``folder``'s version source; return the file written."""
    path, text, match = _locate(folder, source)
    start, end = match.span("version")
    path.write_text(text[:start] + str(version) + text[end:], encoding="utf-8")
    return path


def _locate(folder: Path, source: VersionSource) -> tuple[Path, str, re.Match[str]]:
    path = folder / (source.file or "pyproject.toml")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ReleaseError(f"version file {path} does not exist; fix [tool.hatch.version]") from exc
    match: re.Match[str] | None
    if source.file is None:
        table = re.search(r"(?ms)^\[project\][ \t]*$.*?(?=^\[|\Z)", text)
        match = _STATIC.search(text, table.start(), table.end()) if table else None
    else:
        match = re.search(source.pattern, text, flags=re.MULTILINE)
    if match is None or "version" not in match.groupdict():
        raise ReleaseError(
            f"{path}: no version found with pattern {source.pattern!r}; write it as "
            '__version__ = "X.Y.Z"'
        )
    return path, text, match


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

    Looks at ``[project] dependencies`` and ``optional-dependencies``; each requirement string
    is replaced where it is written, so comments and layout stay.

    :return: old requirement string → new one, for the requirements that changed.
    :raises ReleaseError: a requirement string to rewrite is not found verbatim in the file.
    """
    import tomllib

    text = pyproject.read_text(encoding="utf-8")
    project = tomllib.loads(text).get("project", {})
    strings = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        strings.extend(extra)
    changes: dict[str, str] = {}
    for old in dict.fromkeys(strings):
        name = canonicalize_name(parse_requirement(old).name)
        if name in versions:
            new = pinned_requirement(old, versions[name])
            if new != old:
                changes[old] = new
    for old, new in changes.items():
        literal = re.compile(r"([\"'])" + re.escape(old) + r"\1")
        quote = "'" if '"' in new else '"'
        text, count = literal.subn(lambda _m: f"{quote}{new}{quote}", text)  # noqa: B023
        if count == 0:
            raise ReleaseError(
                f"{pyproject}: cannot find the requirement {old!r} as a plain string to rewrite; "
                "write dependencies as one quoted string each"
            )
    if changes:
        pyproject.write_text(text, encoding="utf-8")
    return changes
