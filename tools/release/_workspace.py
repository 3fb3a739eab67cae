"""The projects of the monorepo and how they depend on each other.

Projects are discovered from ``packages/*/pyproject.toml`` and ``services/*/pyproject.toml``.
Each one's ``[tool.trellis]`` table may say:

* ``owners = ["@org/team", ...]`` — who reviews and releases it (CODEOWNERS is generated);
* ``private = true`` — never released (a service); still shown as a dependent;
* ``import-name = "trellis.blobs"`` — what the smoke test imports (default: from the name);
* ``contract-suite = ["tests/test_contract.py"]`` — test files run with pytest against the
  wheel installed from the index during verification;
* ``django-settings = "blobs_service.settings"`` — a service (no plugin of its own): its
  smoke test runs ``trellis check`` with these settings instead of looking for its plugins;
* ``smoke-random = ["TRELLIS_REMOTE_SECRET"]`` — variables that smoke test sets to fresh
  random values (a secret the service refuses to start without; never a real one).
"""

from __future__ import annotations

import graphlib
import heapq
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from ._errors import ReleaseError
from ._versions import VersionSource, parse_requirement, read_version, version_source

FOLDERS = ("packages", "services")


@dataclass(frozen=True)
class Project:
    """One distribution of the monorepo, as its ``pyproject.toml`` describes it."""

    name: str
    folder: str
    root: Path
    version: Version
    source: VersionSource
    requires: frozenset[str]
    private: bool
    owners: tuple[str, ...]
    import_name: str
    contract_suite: tuple[str, ...]
    extras: frozenset[str]
    django_settings: str | None = None
    smoke_random: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        """The project's folder."""
        return self.root / self.folder

    @property
    def pyproject(self) -> Path:
        return self.path / "pyproject.toml"


@dataclass(frozen=True)
class Workspace:
    """Every project under ``root``, by canonical distribution name."""

    root: Path
    projects: dict[str, Project]
    root_owners: tuple[str, ...] = ()
    _dependents: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        reverse: dict[str, set[str]] = {name: set() for name in self.projects}
        for project in self.projects.values():
            for needed in project.requires:
                reverse[needed].add(project.name)
        self._dependents.update({k: frozenset(v) for k, v in reverse.items()})

    def project(self, name: str) -> Project:
        """The project called ``name`` (any spelling of the distribution name).

        :raises ReleaseError: no such project.
        """
        key = canonicalize_name(name)
        if key not in self.projects:
            known = ", ".join(sorted(self.projects)) or "none"
            raise ReleaseError(f"no project named {name!r} in {self.root}; projects: {known}")
        return self.projects[key]

    def dependents(self, name: str) -> frozenset[str]:
        """Projects that require ``name`` directly."""
        return self._dependents[name]

    def affected(self, changed: Iterable[str]) -> dict[str, frozenset[str]]:
        """Changed projects plus everything that depends on them, transitively.

        :return: project → the changed projects it depends on, directly or transitively
            (empty for a changed project that depends on no other changed one).
        """
        via: dict[str, set[str]] = {}
        for origin in changed:
            via.setdefault(origin, set())
            pending = list(self.dependents(origin))
            seen: set[str] = set()
            while pending:
                name = pending.pop()
                if name in seen:
                    continue
                seen.add(name)
                via.setdefault(name, set()).add(origin)
                pending.extend(self.dependents(name))
        return {name: frozenset(origins) for name, origins in via.items()}

    def order(self, names: Iterable[str]) -> list[str]:
        """``names`` ordered so each comes after the projects it requires (ties by name).

        :raises ReleaseError: the requirements among ``names`` form a cycle.
        """
        wanted = set(names)
        sorter = graphlib.TopologicalSorter({n: self.projects[n].requires & wanted for n in wanted})
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle: list[str] = exc.args[1]  # each one is required by the next: [a, b, a]
            raise ReleaseError(
                f"the in-repo requirements of {', '.join(sorted(set(cycle)))} form a cycle "
                f"({' requires '.join(reversed(cycle))}); a package cannot be released after "
                "itself: remove one of the requirements"
            ) from exc
        # Whichever is ready and first by name goes next, so the order never depends on sets.
        ready = list(sorter.get_ready())
        heapq.heapify(ready)
        ordered: list[str] = []
        while ready:
            name = heapq.heappop(ready)
            ordered.append(name)
            sorter.done(name)
            for other in sorter.get_ready():
                heapq.heappush(ready, other)
        return ordered


def load_workspace(root: Path) -> Workspace:
    """Discover every project under ``root`` (``packages/*`` and ``services/*``).

    :raises ReleaseError: a pyproject is invalid, two folders share a name, or a released
        package requires a private one.
    """
    root = root.resolve()
    raw: dict[str, tuple[str, dict[str, Any]]] = {}
    for folder in FOLDERS:
        for pyproject in sorted((root / folder).glob("*/pyproject.toml")):
            data = _load(pyproject)
            name = data.get("project", {}).get("name")
            if not isinstance(name, str):
                raise ReleaseError(f"{pyproject}: [project] has no 'name'")
            key = canonicalize_name(name)
            rel = pyproject.parent.relative_to(root).as_posix()
            if key in raw:
                raise ReleaseError(
                    f"{rel} and {raw[key][0]} both declare the distribution {name!r}; rename one"
                )
            raw[key] = (rel, data)
    projects = {key: _project(root, key, rel, data, set(raw)) for key, (rel, data) in raw.items()}
    for project in projects.values():
        if project.private:
            continue
        for needed in sorted(project.requires):
            if projects[needed].private:
                raise ReleaseError(
                    f"{project.name} requires {needed}, which is private ([tool.trellis] private "
                    "= true) and never released: a published package cannot depend on it"
                )
    root_config = _load(root / "pyproject.toml") if (root / "pyproject.toml").is_file() else {}
    root_owners = _strings(root_config, "owners", root / "pyproject.toml")
    return Workspace(root, projects, tuple(root_owners))


def _load(pyproject: Path) -> dict[str, Any]:
    try:
        with pyproject.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ReleaseError(f"{pyproject} is not valid TOML: {exc}") from exc


def _strings(data: dict[str, Any], key: str, where: Path) -> list[str]:
    value = data.get("tool", {}).get("trellis", {}).get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReleaseError(
            f"{where}: [tool.trellis] {key} must be a list of strings, not {value!r}"
        )
    return value


def _project(root: Path, key: str, rel: str, data: dict[str, Any], known: set[str]) -> Project:
    where = root / rel / "pyproject.toml"
    meta = data["project"]
    trellis = data.get("tool", {}).get("trellis", {})
    strings = list(meta.get("dependencies", []))
    for extra in meta.get("optional-dependencies", {}).values():
        strings.extend(extra)
    requires = {canonicalize_name(parse_requirement(s).name) for s in strings} & known
    requires.discard(key)
    private = trellis.get("private", False)
    if not isinstance(private, bool):
        raise ReleaseError(
            f"{where}: [tool.trellis] private must be true or false, not {private!r}"
        )
    import_name = trellis.get("import-name", _default_import(key))
    if not isinstance(import_name, str):
        raise ReleaseError(f"{where}: [tool.trellis] import-name must be a string")
    suite = _strings(data, "contract-suite", where)
    django_settings = trellis.get("django-settings")
    if django_settings is not None and not isinstance(django_settings, str):
        raise ReleaseError(f"{where}: [tool.trellis] django-settings must be a module name")
    for item in suite:
        if not (root / rel / item).is_file():
            raise ReleaseError(
                f"{where}: [tool.trellis] contract-suite names {item!r}, which does not exist "
                f"in {rel}; list test files relative to the package folder"
            )
    source = version_source(data, where)
    return Project(
        name=key,
        folder=rel,
        root=root,
        version=read_version(root / rel, source),
        source=source,
        requires=frozenset(requires),
        private=private,
        owners=tuple(_strings(data, "owners", where)),
        import_name=import_name,
        contract_suite=tuple(suite),
        extras=frozenset(canonicalize_name(e) for e in meta.get("optional-dependencies", {})),
        django_settings=django_settings,
        smoke_random=tuple(_strings(data, "smoke-random", where)),
    )


def _default_import(name: str) -> str:
    """``trellis-blobs`` → ``trellis.blobs``; other names → the name with ``_`` for ``-``."""
    if name.startswith("trellis-"):
        return "trellis." + name.removeprefix("trellis-").replace("-", "_")
    return name.replace("-", "_")
