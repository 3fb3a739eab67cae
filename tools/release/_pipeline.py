"""The release pipeline: plan → apply (commit) → build → check → upload → verify → tag.

Each step is recorded in the journal before the next starts, so a re-run after any failure
resumes where the release stopped; a re-run after a finished release finds nothing to do.
What can be checked before the first upload is: a package whose in-repo requirements the
index could not meet is never published.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from ._build import build_many, check_built, dist_dir, twine_check
from ._errors import ReleaseError
from ._fragments import add_fragment, build_changelog, towncrier_config
from ._git import Git, check_releasable, resume_elsewhere, tag_name
from ._index import (
    Index,
    compare_with_index,
    file_version,
    index_from_environment,
    local_index,
    project_files,
    sha256,
    upload,
)
from ._journal import STATES, Journal, PackageRecord, now, release_lock
from ._plan import Plan, make_plan
from ._tagged import seed_at_tags
from ._verify import PYPI, Target, _requirements, _show, verify
from ._versions import pin, rewrite_requirements, write_version
from ._workspace import Workspace, load_workspace

Log = Callable[[str], None]


@dataclass
class Options:
    """How to run a release. Without ``index_url`` it goes to a local pypiserver."""

    root: Path
    index_url: str | None = None
    upload_url: str | None = None
    public: tuple[str, ...] = (PYPI,)
    index_dir: Path | None = None
    state_dir: Path | None = None
    only: frozenset[str] | None = None
    stop_after: str | None = None
    jobs: int = 2
    log: Log = field(default=print)

    @property
    def state(self) -> Path:
        return self.state_dir or self.root / ".release"

    @property
    def local_dir(self) -> Path:
        return self.index_dir or self.state / "index"

    def index_label(self) -> str:
        return self.index_url or f"local pypiserver serving {self.local_dir}"


def journal_path(options: Options) -> Path:
    return options.state / "journal.json"


def release(options: Options) -> Journal | None:
    """Run (or resume) a release; return its journal, or ``None`` when nothing changed.

    :raises ReleaseError: a guard refused to start or a step failed; the journal keeps
        what was done.
    """
    if options.stop_after is not None and options.stop_after not in STATES[1:]:
        raise ReleaseError(f"--stop-after {options.stop_after!r}: choose one of {STATES[1:]}")
    git = Git(options.root)
    with release_lock(options.state):
        journal = Journal.load(journal_path(options))
        if journal is not None and journal.status != "in-progress":
            journal.archive()
            journal = None
        if journal is not None:
            journal = _resume_or_discard(journal, git, options)
        if journal is not None:
            options.log(f"Resuming release {journal.id} ({journal.index}):\n{journal.summary()}")
        else:
            check_releasable(git)
            workspace = load_workspace(options.root)
            plan = make_plan(workspace, git, only=set(options.only) if options.only else None)
            if plan.problems:
                raise ReleaseError("the release cannot start:\n- " + "\n- ".join(plan.problems))
            if not plan.releases:
                options.log(plan.table())
                return None
            options.log(plan.table())
            journal = _start(plan, git, options)
            _apply(plan, workspace, git, journal, options)
        _finish(journal, git, options)
        return journal


def abandon(options: Options) -> Path | None:
    """Mark an in-progress release abandoned and archive its journal; return where it went.

    Logs what to do with the release commit (also one a crash kept out of the journal): one
    that is not pushed and from which nothing was uploaded or tagged is dropped with
    ``git reset --hard <base>``, which brings back the changelog fragments it consumed
    (without them the next release would refuse the changed packages); any other is kept,
    and each package it left untagged needs a new fragment.
    """
    with release_lock(options.state):
        journal = Journal.load(journal_path(options))
        if journal is None:
            return None
        git = Git(options.root)
        commit = journal.release_commit or _unrecorded_release_commit(journal, git)
        was_in_progress = journal.status == "in-progress"
        journal.status = "abandoned" if was_in_progress else journal.status
        journal.save()
        archived = journal.archive()
        if was_in_progress and commit is not None:
            options.log(_after_abandon(journal, git, commit))
        return archived


def _after_abandon(journal: Journal, git: Git, commit: str) -> str:
    """What to do with the release commit of an abandoned release, as exact commands."""
    base = journal.base_commit
    pushed = git("branch", "--remotes", "--contains", commit, check=False).split()
    tagged = [r.name for r in journal.packages if r.reached("tagged")]
    uploaded = [r.name for r in journal.packages if r.reached("uploaded")]
    if not pushed and not tagged and not uploaded:
        return (
            f"The release commit {commit[:12]} is not pushed and nothing was uploaded: drop "
            "it, which also brings back the changelog fragments it consumed (without them "
            f"the next release refuses the changed packages):\n  git reset --hard {base}"
        )
    why = [f"pushed ({pushed[0]})"] if pushed else []
    why += [f"{', '.join(tagged)} tagged on it"] if tagged else []
    why += [f"{', '.join(uploaded)} uploaded from it"] if uploaded else []
    untagged = [r.name for r in journal.packages if not r.reached("tagged")]
    lines = [
        f"Keep the release commit {commit[:12]} ({'; '.join(why)}): its versions are burned, "
        "and the next release bumps past them."
    ]
    if untagged:
        lines.append(
            f"It consumed the changelog fragments of {', '.join(untagged)}: add a new fragment "
            "to each (e.g. +fix.fix.md saying what changed) before releasing again."
        )
    if tagged and not pushed:
        lines.append(f"Push it with its tags: {push_command(git)}")
    return "\n".join(lines)


def _unrecorded_release_commit(journal: Journal, git: Git) -> str | None:
    """HEAD, if it is this release's commit made just before a crash kept it out of the journal.

    That is: HEAD's parent is the release's base commit and HEAD's message carries
    ``Release-Id: <journal id>``.
    """
    head = git.head()
    parent = git("rev-parse", "--verify", "--quiet", "HEAD^", check=False)
    if parent != journal.base_commit:
        return None
    lines = git.message(head).splitlines()
    return head if f"Release-Id: {journal.id}" in lines else None


def _restore(git: Git, base: str, folders: list[str]) -> None:
    """Put ``folders`` back as they are in ``base``: staged, unstaged and untracked changes."""
    git("restore", f"--source={base}", "--staged", "--worktree", "--", *folders)
    git("clean", "-f", "-d", "--quiet", "--", *folders)


def _restore_command(base: str, folders: list[str]) -> str:
    where = " ".join(folders)
    return f"git restore --source={base} --staged --worktree -- {where} && git clean -fd -- {where}"


def _dirty_paths(git: Git) -> list[str]:
    paths = []
    for line in git.dirty():
        paths.extend(line[3:].split(" -> "))
    return paths


def _resume_or_discard(journal: Journal, git: Git, options: Options) -> Journal | None:
    """The in-progress ``journal`` if this run can resume it; ``None`` if it can be dropped.

    A release that stopped before its commit left nothing behind once the tree is clean again,
    so it is archived as abandoned and planning starts over.

    :raises ReleaseError: the release cannot be resumed from here, saying what to do.
    """
    head = git.head()
    if journal.release_commit is None:
        adopted = _unrecorded_release_commit(journal, git)
        if adopted is not None:
            check_releasable(git)
            journal.release_commit = adopted
            journal.save()
            options.log(
                f"Release {journal.id} stopped right after committing; adopted its release "
                f"commit {adopted[:12]} (HEAD, on {journal.base_commit[:12]}, with its "
                "Release-Id)."
            )
        elif head == journal.base_commit:
            _undo_apply(journal, git, options)
            journal.status = "abandoned"
            journal.save()
            journal.archive()
            options.log(f"Discarded release {journal.id}: it stopped before its commit.")
            return None
        else:
            raise ReleaseError(
                f"release {journal.id} stopped before its release commit, on "
                f"{journal.base_commit[:12]} (HEAD is {head[:12]}); run with `--abandon` to "
                "discard it, then re-run"
            )
    if journal.index != options.index_label():
        raise ReleaseError(
            f"release {journal.id} in progress uploads to {journal.index}, but this run targets "
            f"{options.index_label()}; re-run with the same index options to resume, or "
            "`--abandon` it"
        )
    if head != journal.release_commit:
        raise ReleaseError(resume_elsewhere(git, journal.id, journal.release_commit))
    check_releasable(git)  # clean, on a branch, not behind: as when it started
    return journal


def _undo_apply(journal: Journal, git: Git, options: Options) -> None:
    """Undo what a release that stopped before its commit wrote (tree was clean at start).

    Only the released packages' folders are restored; edits anywhere else stop the run with
    the exact command to restore them by hand.

    :raises ReleaseError: other files changed too.
    """
    folders = sorted({p.folder for p in journal.packages})
    dirty = _dirty_paths(git)
    if not dirty:
        return
    inside = tuple(f"{folder}/" for folder in folders)
    outside = [path for path in dirty if not path.startswith(inside)]
    if outside:
        raise ReleaseError(
            f"release {journal.id} stopped while writing versions and changelogs (no commit "
            f"yet), and files outside its packages changed since: {', '.join(outside[:10])}. "
            f"Commit or remove those, and undo the release's edits with\n  "
            f"{_restore_command(journal.base_commit, folders)}\nthen re-run"
        )
    _restore(git, journal.base_commit, folders)
    options.log(
        f"Release {journal.id} stopped while writing versions and changelogs: restored "
        f"{', '.join(folders)} to {journal.base_commit[:12]}."
    )


def _start(plan: Plan, git: Git, options: Options) -> Journal:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    journal = Journal(
        path=journal_path(options),
        id=f"{stamp}-{secrets.token_hex(3)}",
        base_commit=plan.head,
        index=options.index_label(),
        packages=[
            PackageRecord(
                name=e.name,
                folder=e.folder,
                previous=str(e.current),
                version=str(e.next),
                bump=e.bump or "patch",
                order=e.order or 0,
                why=e.why(),
                pins=e.pins,
                history=[{"state": "planned", "at": now()}],
            )
            for e in plan.releases
        ],
    )
    journal.save()
    return journal


def _apply(plan: Plan, workspace: Workspace, git: Git, journal: Journal, options: Options) -> None:
    """Write versions, pins and changelogs of every released package; commit them."""
    try:
        _write_release(plan, workspace)
        names = ", ".join(f"{e.name} {e.next}" for e in plan.releases)
        trailers = "\n".join(f"Release-Package: {e.name} {e.next}" for e in plan.releases)
        commit = git.commit(
            f"Release {names}\n\n{trailers}\nRelease-Id: {journal.id}\n",
            [e.folder for e in plan.releases],
        )
    except BaseException:
        # The tree was clean at the start: put the released folders back as they were (a
        # crash that skips this is undone by the next run, see _undo_apply).
        if git.head() == journal.base_commit:
            _restore(git, journal.base_commit, sorted({e.folder for e in plan.releases}))
        raise
    # A crash between the commit and this save is resumed too: HEAD carries the Release-Id.
    journal.release_commit = commit
    journal.save()
    options.log(f"Committed {commit[:12]}: Release {names}")


def _write_release(plan: Plan, workspace: Workspace) -> None:
    config = towncrier_config(workspace.root)
    versions = {e.name: e.next for e in plan.releases if e.next}
    for entry in plan.releases:
        project = workspace.projects[entry.name]
        assert entry.next is not None
        write_version(project.path, project.source, entry.next)
        siblings = {s: versions.get(s, workspace.projects[s].version) for s in project.requires}
        rewrite_requirements(project.pyproject, siblings)
        if not entry.fragments:
            needs = ", ".join(f"{s}{pin(v)}" for s, v in sorted(siblings.items()) if s in versions)
            add_fragment(
                project.path,
                config,
                "release-dependencies",
                "misc",
                f"Requires {needs}, released together with this version.",
            )
        build_changelog(workspace.root, project.path, entry.name, entry.next, config)


@contextmanager
def _index(options: Options) -> Iterator[Index]:
    if options.index_url:
        yield index_from_environment(options.index_url, options.upload_url)
    else:
        with local_index(options.local_dir) as index:
            yield index


def _timed(options: Options, what: str) -> Callable[[], None]:
    start = time.perf_counter()
    return lambda: options.log(f"  {what} ({time.perf_counter() - start:.1f} s)")


def _finish(journal: Journal, git: Git, options: Options) -> None:
    workspace = load_workspace(options.root)
    _build_step(journal, workspace, options)
    if _stopped(journal, options, "built"):
        return
    _check_step(journal, workspace, options)
    if _stopped(journal, options, "checked"):
        return
    failures = _publish_step(journal, workspace, options)
    if _stopped(journal, options, "uploaded") or _stopped(journal, options, "verified"):
        return
    _tag_step(journal, workspace, git, options)
    if failures:
        raise ReleaseError(
            "verification failed; nothing that depends on a failed package is tagged:\n- "
            + "\n- ".join(f"{name}: {error}" for name, error in failures.items())
            + "\nfix the cause and re-run to resume, or see shared-docs/releasing.md"
        )
    journal.status = "complete"
    journal.save()
    options.log(
        "Released, verified and tagged:\n"
        + "\n".join(f"  {r.tag}" for r in journal.packages)
        + "\nPush the release commit and its tags together (all or nothing): "
        + push_command(git)
    )


def push_command(git: Git) -> str:
    """``git push --atomic --follow-tags <remote> <branch>``: the branch and its tags at once."""
    branch = git.branch() or "main"
    upstream = git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}", check=False)
    remote, _, target = upstream.partition("/") if "/" in upstream else ("origin", "", branch)
    refspec = branch if target == branch else f"{branch}:{target}"
    return f"git push --atomic --follow-tags {remote} {refspec}"


def _stopped(journal: Journal, options: Options, state: str) -> bool:
    if options.stop_after != state:
        return False
    options.log(f"Stopped after '{state}' as asked; re-run to go on.\n{journal.summary()}")
    return True


def _tag_step(journal: Journal, workspace: Workspace, git: Git, options: Options) -> None:
    """Tag each verified package whose in-release requirements are verified too."""
    released = {r.name for r in journal.packages}
    for record in journal.packages:  # in release order: requirements first
        needs = workspace.projects[record.name].requires & released
        if not record.reached("verified") or any(
            not journal.package(n).reached("tagged") for n in needs
        ):
            continue
        if not record.reached("tagged"):
            name = tag_name(record.name, record.version)
            hashes = "\n".join(f"  {f}  sha256:{h}" for f, h in sorted(record.files.items()))
            git.tag(name, f"{record.name} {record.version}\n\n{hashes}\n")
            journal.advance(record.name, "tagged", tag=name)
            options.log(f"  tagged {name}")


def _build_step(journal: Journal, workspace: Workspace, options: Options) -> None:
    """Build what is not built yet, or built but whose files changed before the upload."""
    root = options.root
    todo = [r for r in journal.packages if not r.reached("built") or _files_changed(root, r)]
    if not todo:
        return
    done = _timed(options, f"built {', '.join(r.name for r in todo)}")
    projects = [workspace.projects[r.name] for r in todo]
    built = build_many(projects, root, jobs=options.jobs)
    for record in todo:
        files = check_built(
            workspace.projects[record.name],
            built[record.name],
            Version(record.version),
            record.pins,
        )
        journal.advance(record.name, "built", files=files, force=True)  # check them again
    done()


def _check_step(journal: Journal, workspace: Workspace, options: Options) -> None:
    todo = [r for r in journal.packages if not r.reached("checked")]
    if not todo:
        return
    done = _timed(options, f"twine check --strict of {', '.join(r.name for r in todo)}")
    twine_check([dist_dir(options.root, r.name) / f for r in todo for f in r.files])
    for record in todo:
        journal.advance(record.name, "checked")
    done()


def _publish_step(
    journal: Journal, workspace: Workspace, options: Options
) -> dict[str, ReleaseError]:
    """Upload what is not on the index yet, then verify each package installed from it.

    :return: package → why its verification failed (the others are verified).
    """
    if all(r.reached("verified") for r in journal.packages):
        return {}
    with _index(options) as index:
        todo = [r for r in journal.packages if not r.reached("uploaded")]
        if todo:
            done = _timed(options, f"uploaded to {index.simple}")
            seeds = _to_seed(journal, workspace, index) if index.local else {}
            _check_siblings(journal, workspace, index, todo, seeds)
            _seed_local(seeds, index, options, Git(options.root))
            plans = {r.name: compare_with_index(index, r.name, r.version, r.files) for r in todo}
            files = [dist_dir(options.root, r.name) / f for r in todo for f in plans[r.name][0]]
            upload(index, files)
            for record in todo:
                to_upload, present = plans[record.name]
                missing, _ = compare_with_index(index, record.name, record.version, record.files)
                if missing:
                    raise ReleaseError(f"after uploading, {index.simple} still lacks {missing}")
                journal.advance(record.name, "uploaded", uploaded=to_upload, skipped=present)
                if present:
                    options.log(f"  {record.name}: already on the index, skipped {present}")
            done()
        if options.stop_after == "uploaded":
            return {}
        todo = [r for r in journal.packages if not r.reached("verified")]
        done = _timed(options, f"verified {', '.join(r.name for r in todo)} from {index.simple}")

        # One uv cache for every verification of every run (.release/uv-cache), so third-party
        # wheels are fetched once; Trellis packages are always asked again from the release
        # index, never taken from it (see _verify._refresh_trellis).
        run_cache = options.state / "uv-cache"

        def check(record: PackageRecord) -> None:
            target = Target(workspace.projects[record.name], Version(record.version), record.files)
            proof = verify(
                target, index, list(options.public), workspace, options.state, uv_cache=run_cache
            )
            journal.advance(record.name, "verified", proof=proof)

        failures: dict[str, ReleaseError] = {}
        with ThreadPoolExecutor(max_workers=max(1, min(options.jobs, len(todo) or 1))) as pool:
            futures = {r.name: pool.submit(check, r) for r in todo}
            for name, future in futures.items():
                try:
                    future.result()
                except ReleaseError as exc:
                    failures[name] = exc
        done()
        return failures


def _files_changed(root: Path, record: PackageRecord) -> bool:
    """Whether a built-but-not-uploaded package's files are missing or differ from the journal."""
    if not record.reached("built") or record.reached("uploaded"):
        return False
    folder = dist_dir(root, record.name)
    return any(
        not (folder / f).is_file() or sha256(folder / f) != h for f, h in record.files.items()
    )


def _sibling_requirements(name: str, workspace: Workspace) -> list[tuple[str, str, SpecifierSet]]:
    """(sibling, requirer, specifier) for each in-repo requirement met installing ``name``:
    the graph verification walks (the ``testing`` extra too, with a contract suite)."""
    project = workspace.projects[name]
    first = {"testing"} if project.contract_suite and "testing" in project.extras else set()
    pending = [(name, frozenset(first))]
    seen: set[tuple[str, frozenset[str]]] = set()
    found: list[tuple[str, str, SpecifierSet]] = []
    while pending:
        current, extras = pending.pop()
        if (current, extras) not in seen:
            seen.add((current, extras))
            for requirement in _requirements(workspace.projects[current], set(extras)):
                sibling = canonicalize_name(requirement.name)
                if sibling in workspace.projects and sibling not in {current, name}:
                    found.append((sibling, current, requirement.specifier))
                    pending.append((sibling, frozenset(map(canonicalize_name, requirement.extras))))
    return found


def _check_siblings(
    journal: Journal,
    workspace: Workspace,
    index: Index,
    todo: list[PackageRecord],
    seeds: dict[str, Version],
) -> None:
    """Refuse to upload anything unless every package to upload can be installed from ``index``:
    each in-repo requirement met by a package of this release, one about to be seeded, or a
    wheel already there (verification installs wheels only).

    :raises ReleaseError: naming each package, the sibling and version it needs, what is there.
    """
    released = {r.name: Version(r.version) for r in journal.packages}
    wheels: dict[str, set[Version]] = {}
    problems = []
    for record in todo:
        for sibling, requirer, specifier in _sibling_requirements(record.name, workspace):
            if sibling not in wheels:
                files = [f for f in project_files(index, sibling) if f.endswith(".whl")]
                wheels[sibling] = {Version(v) for f in files if (v := file_version(f, sibling))}
            coming = {v for v in (released.get(sibling), seeds.get(sibling)) if v is not None}
            if any(specifier.contains(v, prereleases=True) for v in wheels[sibling] | coming):
                continue
            run = f"releases {released[sibling]}" if sibling in released else "does not release it"
            problems.append(
                f"{record.name} {record.version} needs {sibling}{_show(specifier)} (required by "
                f"{requirer}), but this run {run} and {index.simple} has no wheel "
                "of it that satisfies that (wheels there: "
                + (", ".join(map(str, sorted(wheels[sibling]))) or "none")
                + ")"
            )
    if problems:
        raise ReleaseError(
            f"nothing was uploaded: {index.simple} could not install what this release would "
            "publish there:\n- " + "\n- ".join(problems) + "\nPut each missing sibling "
            "there first (`nox -s release-build -- --tag <dist>-v<version> --branch main` "
            "rebuilds the files verified at its tag into dist/<dist>/; upload those with "
            "twine), then re-run: this release resumes where it stopped"
        )


def _to_seed(journal: Journal, workspace: Workspace, index: Index) -> dict[str, Version]:
    """The unreleased siblings the released packages need that the local index lacks (a real
    index already has them; a fresh local one may not)."""
    released = {r.name for r in journal.packages}
    needed: set[str] = set()
    pending = [n for r in journal.packages for n in workspace.projects[r.name].requires]
    while pending:
        name = pending.pop()
        if name not in needed and name not in released:
            needed.add(name)
            pending.extend(workspace.projects[name].requires)
    wanted = {}
    for name in sorted(needed):
        version = str(workspace.projects[name].version)
        if not any(file_version(f, name) == version for f in project_files(index, name)):
            wanted[name] = workspace.projects[name].version
    return wanted


def _seed_local(wanted: dict[str, Version], index: Index, options: Options, git: Git) -> None:
    """Put the unreleased siblings ``wanted`` (see :func:`_to_seed`) on the local index.

    Each is built from its release tag's own tree (``git worktree``), never from this checkout:
    a sibling outside the release may have changed since its tag (``--only``), and its tagged
    version must be what verification installs. A tag listing hashes must be rebuilt exactly.
    """
    if not wanted:
        return
    out = options.state / "seed"
    for name, files in seed_at_tags(git, wanted, out).items():
        version = str(wanted[name])
        to_upload, _ = compare_with_index(index, name, version, files)
        upload(index, [out / name / f for f in to_upload])
        options.log(f"  seeded the local index with {name} {version} (built from its tag)")
