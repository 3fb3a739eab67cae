"""One tagged version at a time: what ``.github/workflows/release.yml`` runs on a tag push.

``build_tag`` builds and checks the package a ``<dist>-v<version>`` tag names (the files the
workflow then publishes with trusted publishing); ``verify_tag`` installs that version from an
index and smoke-tests it, exactly as the local pipeline's verify step does.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ._build import build, check_built, dist_dir, twine_check
from ._errors import ReleaseError
from ._git import Git
from ._index import file_sha256, file_version, index_from_environment, project_files
from ._verify import Target, verify
from ._versions import parse_requirement
from ._workspace import Project, Workspace, load_workspace


@dataclass(frozen=True)
class Tagged:
    project: Project
    version: Version
    workspace: Workspace


def parse_tag(root: Path, tag: str) -> Tagged:
    """The project and version a release tag names.

    :raises ReleaseError: no project matches, or the checkout is not at that version.
    """
    workspace = load_workspace(root)
    for name, project in workspace.projects.items():
        if tag.startswith(f"{name}-v"):
            try:
                version = Version(tag.removeprefix(f"{name}-v"))
            except InvalidVersion:
                continue
            if project.private:
                raise ReleaseError(f"tag {tag} names {name}, which is private and never released")
            if project.version != version:
                raise ReleaseError(
                    f"tag {tag} says {version}, but {project.source.describe()} in this checkout "
                    f"says {project.version}; check out the tag itself (git checkout {tag})"
                )
            return Tagged(project, version, workspace)
    names = ", ".join(sorted(workspace.projects))
    raise ReleaseError(f"tag {tag!r} is not <dist>-v<version> for any project ({names})")


def build_tag(root: Path, tag: str, github_output: Path | None = None) -> list[Path]:
    """Build and check the package of ``tag`` into ``dist/<dist>/``; return its files.

    With ``github_output``, append ``dist``, ``version`` and ``dir`` for later workflow steps.
    """
    tagged = parse_tag(root, tag)
    git = Git(root)
    at = git.tag_commit(tag)
    if at is not None and at != git.head():
        raise ReleaseError(f"HEAD is {git.head()[:12]}, not tag {tag} ({at[:12]}); check it out")
    project = tagged.project
    pins: dict[str, str] = {}
    for raw in _requirements(project):
        requirement = parse_requirement(raw)
        name = canonicalize_name(requirement.name)
        if name in tagged.workspace.projects and not requirement.marker:
            pins[name] = str(requirement.specifier)
    out = dist_dir(root, project.name)
    files = build(project, out)
    check_built(project, files, tagged.version, pins)
    twine_check(files)
    if github_output is not None:
        with github_output.open("a", encoding="utf-8") as handle:
            handle.write(f"dist={project.name}\nversion={tagged.version}\n")
            handle.write(f"dir={out.relative_to(root).as_posix()}\n")
    return files


def _requirements(project: Project) -> list[str]:
    import tomllib

    meta = tomllib.loads(project.pyproject.read_text(encoding="utf-8"))["project"]
    return list(meta.get("dependencies", []))


def verify_tag(
    root: Path,
    tag: str,
    index_url: str,
    public: Sequence[str],
    *,
    wait_seconds: float = 0.0,
    state_dir: Path | None = None,
) -> dict[str, object]:
    """Install the version ``tag`` names from ``index_url`` and smoke-test it.

    The expected files are those in ``dist/<dist>/`` when present (so the check proves the
    index serves what was built), else whatever the index lists for that version.
    """
    tagged = parse_tag(root, tag)
    index = index_from_environment(index_url)
    name, version = tagged.project.name, str(tagged.version)
    folder = dist_dir(root, name)
    if folder.is_dir() and any(folder.iterdir()):
        from ._index import sha256

        files = {
            f.name: sha256(f) for f in folder.iterdir() if file_version(f.name, name) == version
        }
    else:
        files = {
            f: file_sha256(index, entry)
            for f, entry in project_files(index, name).items()
            if file_version(f, name) == version
        }
    if not files:
        raise ReleaseError(f"no {name} {version} files in {folder} nor on {index.simple}")
    state = state_dir or Path(tempfile.mkdtemp(prefix="trellis-verify-"))
    try:
        return verify(
            Target(tagged.project, tagged.version, files),
            index,
            public,
            tagged.workspace,
            state,
            wait_seconds=wait_seconds,
        )
    finally:
        if state_dir is None:
            shutil.rmtree(state, ignore_errors=True)
