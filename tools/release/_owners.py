"""Owners: CODEOWNERS generated from ``[tool.trellis] owners``, and who should review a change.

Every project names its owners in its ``pyproject.toml``; the root ``pyproject.toml`` may name
owners for everything outside the projects. ``.github/CODEOWNERS`` is derived from them and a
check fails when it is stale, so the pyprojects stay the one place to change ownership.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ._errors import ReleaseError
from ._workspace import Workspace

CODEOWNERS = Path(".github") / "CODEOWNERS"
_OWNER = re.compile(r"@[A-Za-z0-9](?:[A-Za-z0-9-]*)(?:/[A-Za-z0-9._-]+)?|[^@\s]+@[^@\s]+\.[^@\s]+")
HEADER = (
    "# Generated from the [tool.trellis] owners of each pyproject.toml by `nox -s codeowners`.\n"
    "# Do not edit: change the owners in the pyproject.toml files; `nox -s workflows` and\n"
    "# tests/release/test_owners.py fail while this file is stale.\n"
)


def _validate(owners: Iterable[str], where: str) -> None:
    for owner in owners:
        if not isinstance(owner, str) or not _OWNER.fullmatch(owner):
            raise ReleaseError(
                f"{where}: owner {owner!r} is not a GitHub @user, @org/team or an e-mail address"
            )


def render_codeowners(workspace: Workspace) -> str:
    """The CODEOWNERS text for ``workspace`` (last matching line wins, so ``*`` comes first).

    :raises ReleaseError: a project names no owners, or an owner is malformed.
    """
    lines = [HEADER]
    if workspace.root_owners:
        _validate(workspace.root_owners, "pyproject.toml")
        lines.append(f"*  {' '.join(workspace.root_owners)}\n")
    for project in sorted(workspace.projects.values(), key=lambda p: p.folder):
        where = f"{project.folder}/pyproject.toml"
        if not project.owners:
            raise ReleaseError(
                f'{where} names no owners: add [tool.trellis] owners = ["@org/team"] so '
                "reviews and releases have someone to ask"
            )
        _validate(project.owners, where)
        lines.append(f"/{project.folder}/  {' '.join(project.owners)}\n")
    return "".join(lines)


def codeowners_problem(workspace: Workspace) -> str | None:
    """Why ``.github/CODEOWNERS`` is stale, or ``None`` when it matches the pyprojects."""
    path = workspace.root / CODEOWNERS
    expected = render_codeowners(workspace)
    actual = path.read_text(encoding="utf-8") if path.is_file() else None
    if actual == expected:
        return None
    state = "is missing" if actual is None else "is stale"
    return f"{CODEOWNERS} {state}: regenerate it from the pyproject owners with `nox -s codeowners`"


def write_codeowners(workspace: Workspace) -> Path:
    path = workspace.root / CODEOWNERS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_codeowners(workspace), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Review:
    """Who to ask about a change: owner → the projects (or root files) they own in it."""

    files: tuple[str, ...]
    required: dict[str, list[str]]
    affected: dict[str, list[str]]

    def as_dict(self) -> dict[str, object]:
        return {"files": list(self.files), "required": self.required, "affected": self.affected}

    def text(self, base: str) -> str:
        if not self.files:
            return f"No changes since {base}: nobody to ask."
        lines = [f"{len(self.files)} changed file(s) since {base}. Ask for review from:"]
        for owner, what in sorted(self.required.items()):
            lines.append(f"  {owner:<24} {', '.join(what)}")
        if self.affected:
            lines.append("Also affected (dependents of a changed package), for information:")
            for owner, what in sorted(self.affected.items()):
                lines.append(f"  {owner:<24} {', '.join(what)}")
        return "\n".join(lines)


def review_for(workspace: Workspace, files: Iterable[str]) -> Review:
    """The owners of the projects ``files`` touch, plus owners of their in-repo dependents."""
    changed: dict[str, list[str]] = {}
    loose: list[str] = []
    for path in sorted(set(files)):
        project = next(
            (p for p in workspace.projects.values() if path.startswith(p.folder + "/")), None
        )
        if project is None:
            loose.append(path)
        else:
            changed.setdefault(project.name, []).append(path)
    required: dict[str, list[str]] = {}
    for name in sorted(changed):
        for owner in workspace.projects[name].owners:
            required.setdefault(owner, []).append(name)
    if loose:
        shown = ", ".join(loose[:3]) + (", ..." if len(loose) > 3 else "")
        for owner in workspace.root_owners:
            required.setdefault(owner, []).append(f"repository files ({shown})")
    affected: dict[str, list[str]] = {}
    for name, origins in sorted(workspace.affected(changed).items()):
        if name in changed:
            continue
        for owner in workspace.projects[name].owners:
            if owner not in required:  # already asked about the change itself
                affected.setdefault(owner, []).append(
                    f"{name} (depends on {', '.join(sorted(origins))})"
                )
    return Review(tuple(sorted(set(files))), required, affected)
