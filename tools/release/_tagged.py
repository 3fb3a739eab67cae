"""Tagged versions: what ``.github/workflows/release.yml`` runs after a release is pushed.

A release tag ``<dist>-v<version>`` is made by ``nox -s release`` only after the package was
verified, as an annotated tag whose message lists the sha256 of each verified file. CI never
publishes anything else:

* ``release_tags`` lists the tags of the release commits in a push (their ``Release-Package:``
  trailers), so publishing never depends on GitHub's tag-push events (it sends none when more
  than three tags are pushed at once);
* ``build_tag`` requires an annotated tag on a commit of the release branch, rebuilds the
  package from the tag's own tree and refuses unless the files match the annotation exactly;
* ``verify_built`` installs the rebuilt files from a loopback pypiserver (with the unchanged
  siblings they need, rebuilt from their own tags) and smoke-tests them — before publishing;
* ``verify_tag`` installs the published version from an index (PyPI) and smoke-tests it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ._build import build, check_built, dist_dir, twine_check
from ._errors import ReleaseError
from ._git import Git, detached_tree, tag_name
from ._index import file_sha256, file_version, index_from_environment, local_index, project_files
from ._index import sha256 as file_digest
from ._verify import Target, verify
from ._versions import parse_requirement
from ._workspace import Project, Workspace, load_workspace

_HASH_LINE = re.compile(r"(?m)^\s*(\S+)\s+sha256:([0-9a-f]{64})\s*$")
_TRAILER = re.compile(r"(?m)^Release-Package:\s*(\S+)\s+(\S+)\s*$")
_NO_COMMIT = re.compile(r"0+")


@dataclass(frozen=True)
class Tagged:
    project: Project
    version: Version
    workspace: Workspace


def parse_tag(root: Path, tag: str) -> Tagged:
    """The project and version a release tag names, from the tree at ``root``.

    :raises ReleaseError: no project matches, or the tree is not at that version.
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


def tag_hashes(annotation: str) -> dict[str, str]:
    """The ``<file>  sha256:<hex>`` lines of a release tag's message, as filename → sha256."""
    return {m.group(1): m.group(2) for m in _HASH_LINE.finditer(annotation)}


def release_packages(message: str) -> list[tuple[str, str]]:
    """The ``Release-Package: <dist> <version>`` trailers of a commit message, in order."""
    return [(canonicalize_name(m.group(1)), m.group(2)) for m in _TRAILER.finditer(message)]


@contextmanager
def tag_tree(git: Git, tag: str) -> Iterator[Path]:
    """A temporary detached work tree of ``tag``'s commit (``git worktree``), removed after."""
    with detached_tree(git, f"refs/tags/{tag}^{{commit}}") as tree:
        yield tree


def _pins(tagged: Tagged) -> dict[str, str]:
    import tomllib

    meta = tomllib.loads(tagged.project.pyproject.read_text(encoding="utf-8"))["project"]
    pins: dict[str, str] = {}
    for raw in meta.get("dependencies", []):
        requirement = parse_requirement(raw)
        name = canonicalize_name(requirement.name)
        if name in tagged.workspace.projects and not requirement.marker:
            pins[name] = str(requirement.specifier)
    return pins


def _differences(built: Mapping[str, str], listed: Mapping[str, str]) -> str:
    return "\n".join(
        f"  {f}: rebuilt sha256 {built.get(f, 'none (not built)')}, tag lists "
        f"{listed.get(f, 'none')}"
        for f in sorted(set(built) | set(listed))
        if built.get(f) != listed.get(f)
    )


def build_at_tag(
    git: Git, tag: str, out: Path, *, expect: Mapping[str, str] | None = None
) -> tuple[Tagged, dict[str, str]]:
    """Build the package of ``tag`` from the tag's own tree into ``out``.

    :param expect: filename → sha256 the files must match exactly (the tag's annotation).
    :return: the tagged project (its tree is gone: use names and versions only) and
        filename → sha256 of the files in ``out``.
    :raises ReleaseError: the build fails its checks or differs from ``expect``.
    """
    with tag_tree(git, tag) as tree:
        tagged = parse_tag(tree, tag)
        files = build(tagged.project, out)
        digests = check_built(tagged.project, files, tagged.version, _pins(tagged))
    if expect is not None and digests != dict(expect):
        shutil.rmtree(out, ignore_errors=True)
        raise ReleaseError(
            f"the rebuild of {tag} differs from the files verified before it was tagged — not "
            f"publishing:\n{_differences(digests, expect)}\nthe build is not reproducible here "
            "(check tools/release/build-constraints.txt at the tag and the build environment); "
            "never publish files that were not verified"
        )
    return tagged, digests


def check_tag(git: Git, tag: str, branch: str) -> tuple[str, dict[str, str]]:
    """The commit of release tag ``tag`` and the verified files its annotation lists.

    :raises ReleaseError: the tag is lightweight, lists no hashes, or is not on ``branch``.
    """
    annotation = git.tag_annotation(tag)
    if annotation is None:
        raise ReleaseError(
            f"{tag} is a lightweight tag: only the annotated tags `nox -s release` makes after "
            "verifying a package (their message lists the sha256 of each verified file) are "
            "published"
        )
    hashes = tag_hashes(annotation)
    if not hashes:
        raise ReleaseError(
            f"tag {tag} lists no sha256 of verified files in its message (`<file>  "
            "sha256:<hex>` lines, written by `nox -s release`); it was not made by the release "
            "pipeline and is not published"
        )
    commit = git.commit_of(f"refs/tags/{tag}")
    assert commit is not None
    if git.commit_of(branch) is None:
        raise ReleaseError(
            f"branch {branch!r} is unknown here: fetch it (actions/checkout with fetch-depth: 0) "
            "or pass --branch"
        )
    if not git.is_ancestor(commit, branch):
        raise ReleaseError(
            f"tag {tag} ({commit[:12]}) is not on {branch} (not an ancestor of it): only "
            "release commits merged into the release branch are published"
        )
    return commit, hashes


def build_tag(
    root: Path, tag: str, github_output: Path | None = None, *, branch: str = "origin/main"
) -> list[Path]:
    """Rebuild the package of ``tag`` into ``dist/<dist>/``, exactly as verified; return its files.

    See :func:`build_tags`.
    """
    return build_tags(root, [tag], github_output, branch=branch)[tag]


def build_tags(
    root: Path,
    tags: Sequence[str],
    github_output: Path | None = None,
    *,
    branch: str = "origin/main",
) -> dict[str, list[Path]]:
    """Rebuild and check the package of each release tag into ``dist/<dist>/``.

    Each tag must be annotated, list the sha256 of the verified files, point at a commit of
    ``branch`` whose message releases that package (``Release-Package:``), and the rebuild
    from the tag's own tree must give exactly those files. With ``github_output``, append
    ``dists=<dist> ...`` for later workflow steps.

    :raises ReleaseError: any of that fails (a rebuild that differs is deleted at once).
    """
    git = Git(root)
    built: dict[str, list[Path]] = {}
    for tag in tags:
        commit, hashes = check_tag(git, tag, branch)
        with tag_tree(git, tag) as tree:
            tagged = parse_tag(tree, tag)
        name, version = tagged.project.name, tagged.version
        if (name, str(version)) not in release_packages(git.message(commit)):
            raise ReleaseError(
                f"tag {tag} points at {commit[:12]}, whose message has no trailer "
                f"'Release-Package: {name} {version}': it is not the commit that released it"
            )
        out = dist_dir(root, name)
        build_at_tag(git, tag, out, expect=hashes)
        built[tag] = sorted(out.iterdir())
        twine_check(built[tag])
    if github_output is not None:
        names = " ".join(files[0].parent.name for files in built.values())
        with github_output.open("a", encoding="utf-8") as handle:
            handle.write(f"dists={names}\n")
    return built


def release_tags(root: Path, before: str, after: str) -> list[str]:
    """The release tags of the release commits in ``before..after`` (a push), in order.

    A release commit names its packages in ``Release-Package:`` trailers; each one's tag must
    exist and point at that commit. ``before`` of all zeros (a new branch) or unknown here
    means just ``after``.

    :raises ReleaseError: a release commit's tag is missing or points elsewhere.
    """
    git = Git(root)
    head = git.commit_of(after)
    if head is None:
        raise ReleaseError(f"{after!r} is not a commit here; fetch it (fetch-depth: 0)")
    start = None if _NO_COMMIT.fullmatch(before) else git.commit_of(before)
    span = f"{start}..{head}" if start else head
    commits = git("rev-list", "--reverse", span).split() if start else [head]
    tags: list[str] = []
    missing: list[str] = []
    for commit in commits:
        for name, version in release_packages(git.message(commit)):
            tag = tag_name(name, version)
            at = git.commit_of(f"refs/tags/{tag}")
            if at is None:
                missing.append(tag)
            elif at != commit:
                raise ReleaseError(
                    f"tag {tag} points at {at[:12]}, not at the release commit {commit[:12]} "
                    "that released it; never move a release tag"
                )
            else:
                tags.append(tag)
    if missing:
        lines = [
            f"tag {tag} is missing: its release commit was pushed without it" for tag in missing
        ]
        lines += [
            f"push the tags (`git push --atomic origin {' '.join(missing)}`; push a release "
            "with `git push --atomic --follow-tags origin main`), then run the Release workflow "
            f"by hand (workflow_dispatch) with tags: {' '.join(tags + missing)}",
        ]
        if tags:
            lines.append(
                "if those tags were never made (the release was abandoned before verifying "
                "those packages), run it by hand with only the tags that exist: " + " ".join(tags)
            )
        raise ReleaseError("\n".join(lines))
    return tags


def _needed_siblings(tagged: Tagged) -> dict[str, Version]:
    """In-repo packages ``tagged`` needs (transitively), at their versions in its tree."""
    needed: dict[str, Version] = {}
    pending = list(tagged.project.requires)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed[name] = tagged.workspace.projects[name].version
            pending.extend(tagged.workspace.projects[name].requires)
    return needed


def seed_at_tags(git: Git, wanted: Mapping[str, Version], out: Path) -> dict[str, dict[str, str]]:
    """Build each package of ``wanted`` (name → released version) from its release tag.

    Files go to ``out/<dist>/``. A tag whose message lists hashes must be rebuilt exactly.

    :return: name → filename → sha256.
    :raises ReleaseError: a version has no tag (it was never released) or its rebuild differs.
    """
    seeded: dict[str, dict[str, str]] = {}
    for name, version in sorted(wanted.items()):
        tag = tag_name(name, version)
        if git.commit_of(f"refs/tags/{tag}") is None:
            raise ReleaseError(
                f"{name} {version} is required by this release but was never released (no tag "
                f"{tag}): release it in the same run (drop --only)"
            )
        annotation = git.tag_annotation(tag)
        expect = tag_hashes(annotation or "") or None
        _, seeded[name] = build_at_tag(git, tag, out / name, expect=expect)
    return seeded


def verify_built(
    root: Path,
    tags: Sequence[str],
    public: Sequence[str],
    *,
    state_dir: Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Verify the files ``build_tags`` left in ``dist/<dist>/`` before they are published.

    A loopback pypiserver serves them, plus every sibling they need that is not among
    ``tags`` (rebuilt from its own release tag and checked against its annotation); each
    package is installed from it into a fresh venv and smoke-tested, third-party
    dependencies coming from ``public``.

    :return: tag → the verification proof.
    """
    git = Git(root)
    state = state_dir or Path(tempfile.mkdtemp(prefix="trellis-verify-"))
    try:
        with ExitStack() as stack:
            targets: dict[str, Tagged] = {}
            for tag in tags:
                targets[tag] = parse_tag(stack.enter_context(tag_tree(git, tag)), tag)
            released = {t.project.name for t in targets.values()}
            wanted: dict[str, Version] = {}
            for tagged in targets.values():
                for name, version in _needed_siblings(tagged).items():
                    if name not in released:
                        wanted[name] = version
            index_dir = state / "index"
            index_dir.mkdir(parents=True, exist_ok=True)
            seeded = seed_at_tags(git, wanted, state / "seed")
            for name, files in seeded.items():
                for filename in files:
                    shutil.copy2(state / "seed" / name / filename, index_dir / filename)
            expected: dict[str, dict[str, str]] = {}
            for tag, tagged in targets.items():
                name, number = tagged.project.name, str(tagged.version)
                folder = dist_dir(root, name)
                found = sorted(folder.iterdir()) if folder.is_dir() else []
                found = [f for f in found if file_version(f.name, name) == number]
                if not found:
                    raise ReleaseError(
                        f"no {name} {number} files in {folder}: run release-build first"
                    )
                expected[tag] = {f.name: file_digest(f) for f in found}
                for f in found:
                    shutil.copy2(f, index_dir / f.name)
            proofs: dict[str, dict[str, Any]] = {}
            with local_index(index_dir) as index:
                for tag, tagged in targets.items():
                    target = Target(tagged.project, tagged.version, expected[tag])
                    proofs[tag] = verify(
                        target, index, public, tagged.workspace, state / "state" / tag
                    )
            return proofs
    finally:
        if state_dir is None:
            shutil.rmtree(state, ignore_errors=True)


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

    The project comes from the tag's own tree. What is proved is what *the index* serves:
    its files of that version must be exactly those the tag's annotation lists (the files
    verified before tagging) and, when ``dist/<dist>/`` holds files of that version (CI's
    ``check`` job downloads the published ones there), exactly those too. Without either,
    whatever the index lists for that version is installed and smoke-tested.

    :param wait_seconds: keep re-reading the index this long while it catches up.
    :raises ReleaseError: the index serves other files, none, or the smoke test fails.
    """
    git = Git(root)
    index = index_from_environment(index_url)
    listed = tag_hashes(git.tag_annotation(tag) or "")
    state = state_dir or Path(tempfile.mkdtemp(prefix="trellis-verify-"))
    deadline = time.monotonic() + wait_seconds
    try:
        with tag_tree(git, tag) as tree:
            tagged = parse_tag(tree, tag)
            name, version = tagged.project.name, str(tagged.version)
            folder = dist_dir(root, name)
            expected = [(f"the tag {tag} lists", listed)] if listed else []
            built = sorted(folder.iterdir()) if folder.is_dir() else []
            built = [f for f in built if file_version(f.name, name) == version]
            if built:
                relative = folder.relative_to(root) if folder.is_relative_to(root) else folder
                expected.append((f"{relative}/ holds", {f.name: file_digest(f) for f in built}))
            while True:
                served = {
                    f: file_sha256(index, entry)
                    for f, entry in project_files(index, name).items()
                    if file_version(f, name) == version
                }
                problem = _served_problem(index.simple, name, version, served, expected)
                if problem is None:
                    break
                if time.monotonic() >= deadline:
                    raise ReleaseError(problem)
                time.sleep(5)
            return verify(
                Target(tagged.project, tagged.version, served),
                index,
                public,
                tagged.workspace,
                state,
                wait_seconds=max(0.0, deadline - time.monotonic()),
            )
    finally:
        if state_dir is None:
            shutil.rmtree(state, ignore_errors=True)


def _served_problem(
    simple: str,
    name: str,
    version: str,
    served: Mapping[str, str],
    expected: Sequence[tuple[str, Mapping[str, str]]],
) -> str | None:
    """Why the files ``simple`` serves for ``name`` ``version`` are not the expected ones."""
    if not served:
        return f"{simple} serves no {name} {version} files; publish them first (or --wait)"
    for label, files in expected:
        if dict(files) == dict(served):
            continue
        lines = [
            f"  {f}: {simple} has "
            + (f"sha256 {served[f]}" if f in served else "no such file")
            + f"; {label} "
            + (f"sha256 {files[f]}" if f in files else "no such file")
            for f in sorted(set(served) | set(files))
            if served.get(f) != files.get(f)
        ]
        return (
            f"{simple} serves {name} {version} files other than those {label}:\n"
            + "\n".join(lines)
            + "\nthe index must serve exactly the files that were verified: never publish "
            "other bytes under a released version (see shared-docs/releasing.md)"
        )
    return None
