"""Changelog fragments (towncrier) per package: what they say about the bump, and the build.

Fragments live in ``<package>/changelog.d/`` (the ``directory`` of the root pyproject's
``[tool.towncrier]``), named as towncrier names them: ``<issue>.<type>.md`` or
``+<slug>.<type>.md``. The type decides the bump: ``breaking`` → major, ``feature`` → minor,
any other configured type (``fix``, ``doc``, ``misc``...) → patch.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import Version

from ._errors import ReleaseError
from ._proc import run, tool
from ._versions import BUMPS as BUMP_ORDER
from ._versions import Bump

LEVELS: dict[str, Bump] = {"breaking": "major", "feature": "minor"}
START = "<!-- towncrier release notes start -->"
_IGNORED_PREFIXES = (".", "readme", "template")


@dataclass(frozen=True, slots=True)
class Fragment:
    """One news fragment file."""

    path: Path
    type: str
    issue: str

    @property
    def bump(self) -> Bump:
        return LEVELS.get(self.type, "patch")


@dataclass(frozen=True, slots=True)
class TowncrierConfig:
    """The parts of ``[tool.towncrier]`` the release tooling relies on."""

    pyproject: Path
    directory: str
    filename: str
    types: tuple[str, ...]
    start_string: str


def towncrier_config(root: Path) -> TowncrierConfig:
    """Read ``[tool.towncrier]`` from ``root/pyproject.toml``.

    :raises ReleaseError: it is missing or lacks the per-package settings.
    """
    pyproject = root / "pyproject.toml"
    try:
        data: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (FileNotFoundError, tomllib.TOMLDecodeError) as exc:
        raise ReleaseError(f"cannot read {pyproject}: {exc}") from exc
    config = data.get("tool", {}).get("towncrier")
    if not isinstance(config, dict) or "directory" not in config:
        raise ReleaseError(
            f"{pyproject} has no [tool.towncrier] table with a 'directory' (e.g. 'changelog.d'); "
            "the release reads each package's fragments from <package>/<directory>/ — see "
            "shared-docs/releasing.md"
        )
    types = tuple(t["directory"] for t in config.get("type", []))
    if not types:
        raise ReleaseError(f"{pyproject}: [tool.towncrier] declares no [[tool.towncrier.type]]")
    return TowncrierConfig(
        pyproject=pyproject,
        directory=config["directory"],
        filename=config.get("filename", "CHANGELOG.md"),
        types=types,
        start_string=config.get("start_string", START + "\n").strip(),
    )


def fragments(folder: Path, config: TowncrierConfig) -> list[Fragment]:
    """The news fragments waiting in ``folder``'s fragment directory.

    :raises ReleaseError: a file there is not a valid fragment name or is empty.
    """
    directory = folder / config.directory
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.lower().startswith(_IGNORED_PREFIXES):
            continue
        found.append(_parse(path, config.types))
    return found


def _parse(path: Path, types: tuple[str, ...]) -> Fragment:
    parts = path.name.split(".")
    if len(parts) > 1 and parts[-1] not in types and not parts[-1].isdigit():
        parts = parts[:-1]  # the extension (.md)
    if len(parts) > 2 and parts[-1].isdigit():
        parts = parts[:-1]  # towncrier's counter: 12.fix.1.md
    if len(parts) < 2 or parts[-1] not in types:
        raise ReleaseError(
            f"{path} is not a changelog fragment name: expected <issue>.<type>.md or "
            f"+<slug>.<type>.md with a type among {', '.join(types)} (e.g. +retry.fix.md)"
        )
    if not path.read_text(encoding="utf-8").strip():
        raise ReleaseError(f"{path} is empty: write one sentence for the changelog")
    return Fragment(path, parts[-1], ".".join(parts[:-1]))


def bump_level(found: list[Fragment]) -> Bump | None:
    """The largest bump the fragments ask for, or ``None`` with no fragment."""
    levels = [BUMP_ORDER.index(f.bump) for f in found]
    return BUMP_ORDER[max(levels)] if levels else None


def add_fragment(folder: Path, config: TowncrierConfig, slug: str, kind: str, text: str) -> Path:
    """Write fragment ``+<slug>.<kind>.md`` into ``folder`` (used for dependents' notes)."""
    directory = folder / config.directory
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"+{slug}.{kind}.md"
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def build_changelog(
    root: Path, folder: Path, name: str, version: Version, config: TowncrierConfig
) -> Path:
    """Run ``towncrier build`` for one package: fragments into its changelog, fragments removed.

    A changelog without towncrier's start marker gets one under its first heading first, so
    new releases go below the title rather than above it.
    """
    changelog = folder / config.filename
    if changelog.is_file():
        text = changelog.read_text(encoding="utf-8")
        if config.start_string not in text:
            lines = text.splitlines(keepends=True)
            at = next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), 0)
            lines.insert(at, f"\n{config.start_string}\n")
            changelog.write_text("".join(lines), encoding="utf-8")
    run(
        [
            *tool("towncrier"),
            "build",
            "--config",
            str(config.pyproject),
            "--dir",
            str(folder),
            "--name",
            name,
            "--version",
            str(version),
            "--date",
            dt.date.today().isoformat(),
            "--yes",
        ],
        cwd=root,
        what=f"towncrier build for {name}",
        timeout=120,
    )
    return changelog
