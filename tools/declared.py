"""Check that an environment holds only what one project declares.

``python tools/declared.py <project folder>``, run inside the environment ``nox -s
"test(<project>)"`` made: every installed distribution must be the project itself, a
requirement of it (with all its extras, as the session installs them), a requirement of its
``[dependency-groups] test``, or a requirement of those, transitively. Anything else was
installed without being declared, so the project's tests could pass here and fail for a user
who installs only what it declares. Exits 1 naming each undeclared distribution.

Stdlib plus ``packaging`` (a dependency of every Trellis package), so it runs in any session.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SEEDED = frozenset({"pip", "setuptools", "wheel"})
"""What a virtual environment may hold without anyone declaring it."""


def roots(project: Path) -> list[Requirement]:
    """The project with all its extras, and its ``test`` dependency group."""
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    meta = data["project"]
    extras = ",".join(sorted(meta.get("optional-dependencies", {})))
    found = [Requirement(f"{meta['name']}[{extras}]" if extras else meta["name"])]
    found += [Requirement(text) for text in _group(data.get("dependency-groups", {}), "test")]
    return found


def _group(groups: dict[str, list[object]], name: str) -> list[str]:
    """A PEP 735 dependency group's requirement strings, ``include-group`` entries expanded."""
    found: list[str] = []
    for entry in groups.get(name, []):
        if isinstance(entry, str):
            found.append(entry)
        elif isinstance(entry, dict) and "include-group" in entry:
            found += _group(groups, str(entry["include-group"]))
    return found


def closure(requirements: Iterable[Requirement]) -> set[str]:
    """Canonical names of the installed distributions ``requirements`` pull in, transitively."""
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed: nothing it pulls in can be here through it
        for text in distribution.requires or []:
            needed = Requirement(text)
            if needed.marker is None or any(
                needed.marker.evaluate({"extra": extra}) for extra in requirement.extras or {""}
            ):
                pending.append(needed)
    return {name for name, _ in seen}


def undeclared(project: Path) -> list[str]:
    """Installed distributions that ``project`` does not declare, sorted."""
    installed = {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions()}
    return sorted(installed - closure(roots(project)) - SEEDED)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tools/declared.py <project folder>", file=sys.stderr)
        return 2
    project = Path(argv[0])
    if not (project / "pyproject.toml").is_file():
        print(f"{project} has no pyproject.toml; name a project folder", file=sys.stderr)
        return 2
    extra = undeclared(project)
    if extra:
        print(
            f"{project}: installed but not declared by the project, its extras or its "
            f"[dependency-groups] test: {', '.join(extra)}; declare what its tests need",
            file=sys.stderr,
        )
        return 1
    print(f"{project}: every installed distribution is declared")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
