"""The release plan: which packages change, to which version, why, and in what order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from ._errors import ReleaseError
from ._fragments import TowncrierConfig, bump_level, fragments, towncrier_config
from ._git import Git, tag_name
from ._versions import Bump, bump, pin
from ._workspace import Workspace


@dataclass(frozen=True)
class Entry:
    """One project in the plan: a package to release, or a private dependent to mention."""

    name: str
    folder: str
    current: Version
    next: Version | None
    bump: Bump | None
    order: int | None
    last_tag: str | None
    changed_files: tuple[str, ...]
    dependent_of: tuple[str, ...]
    fragments: tuple[str, ...]
    private: bool
    pins: dict[str, str] = field(default_factory=dict)
    missing_fragment: bool = False

    @property
    def released(self) -> bool:
        return not self.private

    def why(self) -> str:
        """Why the project is in the plan, in one line."""
        reasons = []
        if self.changed_files:
            since = f"since {self.last_tag}" if self.last_tag else "(first release: no tag yet)"
            reasons.append(f"{len(self.changed_files)} file(s) changed {since}")
        if self.fragments:
            reasons.append(f"fragments: {', '.join(self.fragments)}")
        if self.dependent_of:
            reasons.append(f"dependent of {', '.join(self.dependent_of)}")
        if self.private:
            reasons.append("private: not released")
        if self.missing_fragment:
            reasons.append("ERROR: no changelog fragment")
        return "; ".join(reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "folder": self.folder,
            "current": str(self.current),
            "next": str(self.next) if self.next else None,
            "bump": self.bump,
            "order": self.order,
            "last_tag": self.last_tag,
            "tag": tag_name(self.name, self.next) if self.next else None,
            "changed_files": list(self.changed_files),
            "dependent_of": list(self.dependent_of),
            "fragments": list(self.fragments),
            "private": self.private,
            "pins": self.pins,
            "missing_fragment": self.missing_fragment,
            "why": self.why(),
        }


@dataclass(frozen=True)
class Plan:
    """Every affected project, released ones first in release order."""

    head: str
    entries: tuple[Entry, ...]
    problems: tuple[str, ...] = ()

    @property
    def releases(self) -> list[Entry]:
        """The packages to release, in order."""
        return [e for e in self.entries if e.released]

    def as_dict(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "packages": [e.as_dict() for e in self.entries],
            "problems": list(self.problems),
        }

    def table(self) -> str:
        """The plan as an aligned table (or a sentence when there is nothing to release)."""
        if not self.entries:
            return "Nothing to release: no package changed since its last release tag."
        rows = [("order", "package", "version", "bump", "tag", "why")]
        for e in self.entries:
            tag = tag_name(e.name, e.next) if e.next and not e.missing_fragment else "-"
            if e.private:
                version, level = f"{e.current} (private)", "-"
            elif e.missing_fragment:
                version, level = f"{e.current} -> ?", "?"
            else:
                version, level = f"{e.current} -> {e.next}", e.bump or "-"
            rows.append((str(e.order or "-"), e.name, version, level, tag, e.why()))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = []
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            lines.append("  ".join([*cells, row[5]]).rstrip())
        return "\n".join(lines)

    def pins_text(self) -> str:
        """The sibling requirements the release commit writes, one line per requirement."""
        released = {e.name for e in self.releases}
        lines = [
            f"  {e.name}: {needed}{spec} "
            + ("(released together)" if needed in released else "(its current version)")
            for e in self.releases
            for needed, spec in sorted(e.pins.items())
        ]
        if not lines:
            return ""
        return "\n".join(["Sibling requirements the release commit pins:", *lines])


def _canonical_only(workspace: Workspace, only: Iterable[str] | None) -> set[str] | None:
    if only is None:
        return None
    public = sorted(n for n, p in workspace.projects.items() if not p.private)
    known = f"packages that can be released: {', '.join(public) or 'none'}"
    names: set[str] = set()
    for raw in sorted(only):
        name = canonicalize_name(raw)
        if name not in workspace.projects:
            raise ReleaseError(f"--only {raw}: no such package; {known}")
        if workspace.projects[name].private:
            raise ReleaseError(f"--only {raw}: it is private and never released; {known}")
        names.add(name)
    return names


def make_plan(
    workspace: Workspace,
    git: Git,
    *,
    only: Iterable[str] | None = None,
    config: TowncrierConfig | None = None,
) -> Plan:
    """Plan a release of everything changed since its last tag, plus in-repo dependents.

    :param only: restrict the *changed* set to these packages (their dependents still follow);
        any spelling of a distribution name.
    :return: the plan; ``problems`` lists what would stop a real release (missing fragments,
        versions behind their tag, tags that exist already).
    :raises ReleaseError: ``only`` names a package that does not exist or is private.
    """
    only = _canonical_only(workspace, only)
    config = config or towncrier_config(workspace.root)
    untracked = git.untracked()
    changed: dict[str, tuple[str | None, list[str]]] = {}
    last_tags: dict[str, tuple[str, Version] | None] = {}
    for name, project in workspace.projects.items():
        last = git.last_release(name)
        last_tags[name] = last
        if project.private or (only is not None and name not in only):
            continue  # a private project is never released: it only shows up as a dependent
        files = git.changed_files(project.folder, last[0] if last else None, untracked)
        if files:
            changed[name] = (last[0] if last else None, files)

    affected = workspace.affected(changed)
    problems: list[str] = []
    public = [n for n in affected if not workspace.projects[n].private]
    order = {name: i for i, name in enumerate(workspace.order(public), start=1)}
    next_versions: dict[str, Version] = {}
    draft: dict[str, tuple[Bump | None, list[str]]] = {}
    missing: set[str] = set()
    for name in order:
        project = workspace.projects[name]
        found = fragments(project.path, config)
        level = bump_level(found)
        if name in changed and level is None:
            missing.add(name)
            problems.append(
                f"{name} changed ({len(changed[name][1])} file(s), e.g. {changed[name][1][0]}) "
                f"but has no changelog fragment in {project.folder}/{config.directory}/: add one "
                f"such as {project.folder}/{config.directory}/+short-name.fix.md (breaking → "
                "major, feature → minor, other types → patch) and commit it"
            )
        level = level or "patch"
        last = last_tags[name]
        if last and project.version < last[1]:
            problems.append(
                f"{name}: the version in {project.source.describe()} is {project.version}, lower "
                f"than its last release tag {last[0]}; set it to {last[1]} (or higher)"
            )
        next_versions[name] = bump(project.version, level)
        tag = tag_name(name, next_versions[name])
        tagged = git.tag_commit(tag)
        if tagged:
            where = (
                "on this branch"
                if git.is_ancestor(tagged, "HEAD")
                else "which is not on this branch"
            )
            problems.append(
                f"{name} {next_versions[name]}: tag {tag} already exists on commit "
                f"{tagged[:12]}, {where}; raise {name}'s version in "
                f"{project.source.describe()} past {next_versions[name]}"
            )
        draft[name] = (level, [f.path.name for f in found])

    entries = []
    for name in sorted(affected, key=lambda n: (n not in order, order.get(n, 0), n)):
        project = workspace.projects[name]
        level, names = draft.get(name, (None, []))
        pins = {}
        if not project.private:
            for needed in sorted(project.requires):
                version = next_versions.get(needed, workspace.projects[needed].version)
                pins[needed] = pin(version)
        entries.append(
            Entry(
                name=name,
                folder=project.folder,
                current=project.version,
                next=next_versions.get(name),
                bump=level,
                order=order.get(name),
                last_tag=(last_tags[name] or (None,))[0],
                changed_files=tuple(changed.get(name, (None, []))[1]),
                dependent_of=tuple(sorted(affected[name])),
                fragments=tuple(names),
                private=project.private,
                pins=pins,
                missing_fragment=name in missing,
            )
        )
    return Plan(git.head(), tuple(entries), tuple(problems))
