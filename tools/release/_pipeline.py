"""The release pipeline: plan → apply (commit) → build → check → upload → verify → tag.

Each step is recorded in the journal before the next starts, so a re-run after any failure
resumes where the release stopped; a re-run after a finished release finds nothing to do.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from ._build import build, build_many, check_built, dist_dir, twine_check
from ._errors import ReleaseError
from ._fragments import add_fragment, build_changelog, towncrier_config
from ._git import Git, check_releasable, tag_name
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
from ._verify import PYPI, Target, verify
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
    """Mark an in-progress release abandoned and archive its journal; return where it went."""
    with release_lock(options.state):
        journal = Journal.load(journal_path(options))
        if journal is None:
            return None
        journal.status = "abandoned" if journal.status == "in-progress" else journal.status
        journal.save()
        return journal.archive()


def _resume_or_discard(journal: Journal, git: Git, options: Options) -> Journal | None:
    """The in-progress ``journal`` if this run can resume it; ``None`` if it can be dropped.

    A release that stopped before its commit left nothing behind once the tree is clean again,
    so it is archived as abandoned and planning starts over.

    :raises ReleaseError: the release cannot be resumed from here, saying what to do.
    """
    head = git.head()
    if journal.release_commit is None:
        if head == journal.base_commit and not git.dirty():
            journal.status = "abandoned"
            journal.save()
            journal.archive()
            options.log(f"Discarded release {journal.id}: it stopped before its commit.")
            return None
        if head == journal.base_commit:
            raise ReleaseError(
                f"release {journal.id} stopped while writing versions and changelogs (no commit "
                "yet); discard its edits with `git checkout -- . && git clean -fd -- packages "
                "services` and re-run"
            )
        raise ReleaseError(
            f"release {journal.id} stopped before its release commit, on {journal.base_commit[:12]}"
            f" (HEAD is {head[:12]}); run with `--abandon` to discard it, then re-run"
        )
    if journal.index != options.index_label():
        raise ReleaseError(
            f"release {journal.id} in progress uploads to {journal.index}, but this run targets "
            f"{options.index_label()}; re-run with the same index options to resume, or "
            "`--abandon` it"
        )
    if head != journal.release_commit:
        raise ReleaseError(
            f"release {journal.id} is in progress on commit {journal.release_commit[:12]}, but "
            f"HEAD is {head[:12]}: check out {journal.release_commit[:12]} to resume it, or run "
            "with `--abandon` to give it up (files already uploaded stay on the index)"
        )
    if git.dirty():
        check_releasable(git)
    return journal


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
    names = ", ".join(f"{e.name} {e.next}" for e in plan.releases)
    trailers = "\n".join(f"Release-Package: {e.name} {e.next}" for e in plan.releases)
    journal.release_commit = git.commit(
        f"Release {names}\n\n{trailers}\nRelease-Id: {journal.id}\n",
        [e.folder for e in plan.releases],
    )
    journal.save()
    options.log(f"Committed {journal.release_commit[:12]}: Release {names}")


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
        + "\nPush the release commit and its tags: git push --follow-tags"
    )


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
    built = build_many([workspace.projects[r.name] for r in todo], root, jobs=options.jobs)
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
            if index.local:
                _seed_local(journal, workspace, index, options, Git(options.root))
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

        def check(record: PackageRecord) -> None:
            target = Target(workspace.projects[record.name], Version(record.version), record.files)
            proof = verify(target, index, list(options.public), workspace, options.state)
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


def _seed_local(
    journal: Journal, workspace: Workspace, index: Index, options: Options, git: Git
) -> None:
    """Put unreleased siblings the released packages need on the local index.

    A sibling outside the plan is unchanged since its release tag, so building it from this
    checkout reproduces that release (hatch builds are reproducible). Real indexes already
    have it; a fresh local one may not.
    """
    released = {r.name for r in journal.packages}
    needed: set[str] = set()
    pending = [n for r in journal.packages for n in workspace.projects[r.name].requires]
    while pending:
        name = pending.pop()
        if name not in needed and name not in released:
            needed.add(name)
            pending.extend(workspace.projects[name].requires)
    for name in sorted(needed):
        project = workspace.projects[name]
        version = str(project.version)
        if any(file_version(f, name) == version for f in project_files(index, name)):
            continue
        if git.tag_commit(tag_name(name, version)) is None:
            raise ReleaseError(
                f"{name} {version} is required by this release but was never released (no tag "
                f"{tag_name(name, version)}): release it in the same run (drop --only)"
            )
        out = options.state / "seed" / name
        files = check_built(project, build(project, out), project.version, {})
        to_upload, _ = compare_with_index(index, name, version, files)
        upload(index, [out / f for f in to_upload])
        options.log(f"  seeded the local index with {name} {version} (unchanged since its tag)")
