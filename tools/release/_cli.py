"""``python -m tools.release``: the commands behind the nox release sessions."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import ReleaseError
from ._git import Git, check_releasable, detached_tree, resume_elsewhere, tag_name
from ._journal import STATES, Journal, PackageRecord
from ._owners import codeowners_problem, review_for, write_codeowners
from ._pipeline import (
    Options,
    _dirty_paths,
    _restore_command,
    _unrecorded_release_commit,
    abandon,
    journal_path,
    release,
)
from ._plan import make_plan
from ._tagged import build_tags, release_tags, verify_built, verify_tag
from ._verify import PYPI
from ._workspace import load_workspace

ROOT = Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.release",
        description="Release Trellis packages: plan, build, check, upload, verify, tag.",
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="repository root (default: %(default)s)"
    )
    # --root is accepted after the command too (`nox -s release -- --root ...`)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", parents=[common], help="release what changed (or --dry-run: print the plan)"
    )
    run.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    run.add_argument("--json", action="store_true", help="with --dry-run only: the plan as JSON")
    run.add_argument(
        "--only",
        action="append",
        metavar="PKG",
        help="release only these changed packages (and their dependents)",
    )
    run.add_argument("--stop-after", choices=STATES[1:-1], help="stop after this state")
    run.add_argument(
        "--abandon",
        action="store_true",
        help="give up the release in progress (archive its journal) and exit",
    )
    run.add_argument("--jobs", type=int, default=2, help="parallel builds/verifications")
    _index_options(run)

    plan = commands.add_parser("plan", parents=[common], help="same as run --dry-run")
    plan.add_argument("--json", action="store_true", help="the plan as JSON")
    plan.add_argument("--only", action="append", metavar="PKG")
    _index_options(plan)

    tags = commands.add_parser(
        "tags", parents=[common], help="the release tags to publish for a push (or as given)"
    )
    tags.add_argument("--before", default="", help="the commit before the push")
    tags.add_argument("--after", default="HEAD", help="the commit pushed (default: HEAD)")
    tags.add_argument(
        "--tag", action="append", default=[], help="publish these tags instead (space-separated)"
    )
    tags.add_argument("--github-output", type=Path, help="append tags=<tag> ... here")

    build = commands.add_parser(
        "build", parents=[common], help="rebuild release tags exactly as verified, and check them"
    )
    build.add_argument(
        "--tag", action="append", required=True, help="<dist>-v<version> (repeatable, or spaced)"
    )
    build.add_argument(
        "--branch",
        default="origin/main",
        help="each tag must be on this branch (default: %(default)s)",
    )
    build.add_argument("--github-output", type=Path, help="append dists=<dist> ... here")

    verify = commands.add_parser(
        "verify",
        parents=[common],
        help="install tagged versions (from a loopback index with --local) and smoke-test them",
    )
    verify.add_argument(
        "--tag", action="append", required=True, help="<dist>-v<version> (repeatable, or spaced)"
    )
    verify.add_argument(
        "--local",
        action="store_true",
        help="from a loopback pypiserver serving dist/<dist>/ and the siblings' tagged builds",
    )
    verify.add_argument("--wait", type=float, default=0.0, help="retry this many seconds")
    _index_options(verify, index_dir=False)

    owners = commands.add_parser(
        "owners", parents=[common], help="who to ask for review of the current change"
    )
    owners.add_argument("--base", help="compare with this ref (default: upstream, or main)")
    owners.add_argument("--json", action="store_true")

    codeowners = commands.add_parser(
        "codeowners", parents=[common], help="write .github/CODEOWNERS from pyproject owners"
    )
    codeowners.add_argument("--check", action="store_true", help="fail if it is stale instead")
    return parser


def _index_options(parser: argparse.ArgumentParser, *, index_dir: bool = True) -> None:
    # The environment's defaults are applied after parsing (see _env_defaults), so that an
    # --index-url given on the command line can be told apart from one set in the environment.
    parser.add_argument(
        "--index-url",
        help="simple API of the index to release to (env TRELLIS_RELEASE_INDEX_URL; default: "
        "a local pypiserver); credentials from TWINE_USERNAME / TWINE_PASSWORD",
    )
    parser.add_argument(
        "--upload-url",
        help="where twine uploads (env TRELLIS_RELEASE_UPLOAD_URL; default: the index URL "
        "without simple/)",
    )
    if index_dir:
        parser.add_argument(
            "--index-dir",
            type=Path,
            help="storage of the local pypiserver (default: .release/index)",
        )
    parser.add_argument(
        "--public-index-url",
        action="append",
        help=f"index(es) for third-party dependencies during verification, after the release "
        f"index (default: {PYPI}; env TRELLIS_RELEASE_PUBLIC_INDEX_URL, space-separated)",
    )


def _public(args: argparse.Namespace) -> tuple[str, ...]:
    if args.public_index_url:
        return tuple(args.public_index_url)
    env = os.environ.get("TRELLIS_RELEASE_PUBLIC_INDEX_URL", "").split()
    return tuple(env) or (PYPI,)


def _refuse_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Stop (exit 2) on options that would otherwise be ignored: never do what was not asked."""
    if args.command == "run" and args.json and not args.dry_run:
        parser.error(
            "--json prints the plan of a dry run: add --dry-run (a release prints its progress "
            "as text and records its result in .release/journal.json)"
        )
    if args.command == "run" and args.abandon and args.dry_run:
        parser.error(
            "--abandon changes the release in progress and --dry-run changes nothing: run "
            "--dry-run to see the release in progress, then --abandon alone to give it up"
        )
    if args.command == "verify" and args.local and args.index_url:
        parser.error(
            "--local and --index-url name two different indexes: --local verifies the files in "
            "dist/ from a loopback pypiserver (before publishing), --index-url what that index "
            "serves (after publishing); choose one"
        )


def _env_defaults(args: argparse.Namespace) -> None:
    for option, variable in (
        ("index_url", "TRELLIS_RELEASE_INDEX_URL"),
        ("upload_url", "TRELLIS_RELEASE_UPLOAD_URL"),
    ):
        if hasattr(args, option) and not getattr(args, option):
            setattr(args, option, os.environ.get(variable) or None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status (1 on a release error, with its message)."""
    parser = _parser()
    args = parser.parse_args(argv)
    _refuse_combinations(parser, args)
    if not (args.command == "verify" and args.local):
        _env_defaults(args)
    root: Path = args.root.resolve()
    try:
        if args.command == "plan" or (args.command == "run" and args.dry_run):
            return _plan(root, args)
        if args.command == "run":
            return _run(root, args)
        if args.command == "tags":
            return _tags(root, args)
        if args.command == "build":
            built = build_tags(root, _split(args.tag), args.github_output, branch=args.branch)
            for files in built.values():
                print("\n".join(f"rebuilt as verified {f.relative_to(root)}" for f in files))
            return 0
        if args.command == "verify":
            return _verify(root, args)
        if args.command == "owners":
            return _owners(root, args)
        return _codeowners(root, check=args.check)
    except ReleaseError as exc:
        print(f"release: error: {exc}", file=sys.stderr)
        return 1


def _split(values: Sequence[str]) -> list[str]:
    return [tag for value in values for tag in value.split()]


def _tags(root: Path, args: argparse.Namespace) -> int:
    if _split(args.tag):
        git = Git(root)
        tags = _split(args.tag)
        for tag in tags:
            git.tag_annotation(tag)  # raises when there is no such tag
    else:
        tags = release_tags(root, args.before or "0" * 40, args.after)
    print("\n".join(tags) if tags else "no release commit in this push: nothing to publish")
    if args.github_output is not None:
        with args.github_output.open("a", encoding="utf-8") as handle:
            handle.write(f"tags={' '.join(tags)}\n")
    return 0


def _verify(root: Path, args: argparse.Namespace) -> int:
    tags = _split(args.tag)
    if args.local:
        proofs = verify_built(root, tags, _public(args))
    elif args.index_url:
        proofs = {
            tag: verify_tag(root, tag, args.index_url, _public(args), wait_seconds=args.wait)
            for tag in tags
        }
    else:
        raise ReleaseError("verify needs --local or --index-url (or TRELLIS_RELEASE_INDEX_URL)")
    print(json.dumps(proofs, indent=2))
    return 0


def _options(root: Path, args: argparse.Namespace) -> Options:
    return Options(
        root=root,
        index_url=args.index_url,
        upload_url=args.upload_url,
        public=_public(args),
        index_dir=args.index_dir.resolve() if args.index_dir else None,
        only=frozenset(args.only) if args.only else None,
        stop_after=getattr(args, "stop_after", None),
        jobs=getattr(args, "jobs", 2),
    )


def _plan(root: Path, args: argparse.Namespace) -> int:
    """The dry run: what ``run`` with the same options would do now, changing nothing.

    With a release in progress that is what the run does with it (resume it, or undo its
    unfinished edits and plan again, or refuse), never a plan the run would not follow.
    """
    options = _options(root, args)
    git = Git(root)
    journal = Journal.load(journal_path(options))
    pending = in_progress(journal, git, options) if journal else None
    data: dict[str, Any]
    if pending is not None and pending.replan is None:
        assert journal is not None
        data = {
            "head": git.head(),
            "packages": [_record_as_dict(r) for r in journal.packages],
            "problems": [pending.refusal] if pending.refusal else [],
        }
        text = f"{pending.message}\n{journal.summary()}"
        dirty: list[str] = []
    else:
        with _planning_tree(git, journal, pending) as tree:
            plan = make_plan(load_workspace(tree), Git(tree), only=options.only)
        data = plan.as_dict()
        if pending is not None:
            refusals = [pending.refusal] if pending.refusal else []
            data["problems"][:0] = [*refusals, *pending.burned]
        text = "\n\n".join(t for t in (plan.table(), plan.pins_text()) if t)
        if pending is not None:
            text = f"{pending.message}\n\n{text}"
        dirty = git.dirty() if pending is None or pending.replan == "here" else []
    data["index"] = options.index_label()
    if pending is not None:
        assert journal is not None
        data["in_progress"] = {
            "id": journal.id,
            "action": pending.action,
            "message": pending.message,
            "packages": {p.name: p.state for p in journal.packages},
        }
    if args.json:
        print(json.dumps(data, indent=2))
        return 1 if data["problems"] else 0
    print(text)
    print(f"\nIndex: {options.index_label()}")
    if dirty:
        print(
            f"\nnote: {len(dirty)} uncommitted change(s) are included above; a real "
            "release refuses to start until they are committed"
        )
    for problem in data["problems"]:
        print(f"\nerror: {problem}", file=sys.stderr)
    return 1 if data["problems"] else 0


@dataclass(frozen=True)
class Pending:
    """What ``run`` does with the release in progress, in words for the dry run.

    ``replan`` is ``None`` when the run resumes the journal (or refuses until it can),
    ``"base"`` when it undoes the release's unfinished edits and plans again from the commit
    the release started from, ``"here"`` when it plans again from the tree as it is (after
    ``--abandon``). ``refusal`` is why the run would stop, if it would; ``outside`` the
    uncommitted files outside the release's folders; ``burned`` the versions the interrupted
    release wrote that were committed since (see :func:`_unreleased_versions_committed`).
    """

    action: str
    message: str
    replan: str | None = None
    refusal: str | None = None
    outside: tuple[str, ...] = ()
    burned: tuple[str, ...] = ()


def _unreleased_versions_committed(journal: Journal, git: Git) -> tuple[str, ...]:
    """The versions an interrupted release wrote that were committed since, each with its fix.

    Such a release built and uploaded nothing, so its versions never left this checkout; but
    once committed, the next release bumps past them (a written, untagged version is never
    reused) and the version is skipped.
    """
    workspace = load_workspace(git.root)
    found = []
    for record in journal.packages:
        project = workspace.projects.get(record.name)
        if project is None or record.version == record.previous:
            continue
        if str(project.version) == record.version:
            source = f"{project.folder}/{project.source.file or 'pyproject.toml'}"
            found.append(
                f"{record.name}'s version is {record.version}, which release {journal.id} "
                f"wrote and never released: set it back (`git restore "
                f"--source={journal.base_commit} -- {source}`) and commit, after `--abandon`; "
                f"otherwise the next release skips {record.version}"
            )
    return tuple(found)


def in_progress(journal: Journal, git: Git, options: Options) -> Pending | None:
    """What ``run`` would do with ``journal`` from this checkout (mirrors the pipeline's resume).

    :return: ``None`` when the journal is finished (the run archives it and plans afresh).
    """
    if journal.status != "in-progress":
        return None
    head, base, rid = git.head(), journal.base_commit, journal.id
    commit = journal.release_commit
    refusal: str | None
    adopted = None
    if commit is None:
        adopted = _unrecorded_release_commit(journal, git)
        if adopted is None and head != base:
            refusal = (
                f"release {rid} stopped before its release commit, on {base[:12]} (HEAD is "
                f"{head[:12]}); run with `--abandon` to discard it, then re-run"
            )
            return Pending(
                "abandon, then plan again",
                f"Release {rid} stopped before its release commit, on {base[:12]}, and HEAD "
                f"has moved to {head[:12]}: `nox -s release` refuses until the release is "
                "given up with `--abandon`; then it releases this plan:",
                replan="here",
                refusal=refusal,
                burned=_unreleased_versions_committed(journal, git),
            )
        if adopted is None:
            folders = sorted({p.folder for p in journal.packages})
            inside = tuple(f"{folder}/" for folder in folders)
            outside = tuple(p for p in _dirty_paths(git) if not p.startswith(inside))
            if outside:
                refusal = (
                    f"release {rid} stopped while writing versions and changelogs (no commit "
                    f"yet), and files outside its packages changed since: "
                    f"{', '.join(outside[:10])}. Commit or remove those, and undo the "
                    f"release's edits with\n  {_restore_command(base, folders)}\nthen re-run"
                )
                return Pending(
                    "restore and plan again",
                    f"Release {rid} stopped while writing versions and changelogs, before its "
                    f"commit. Its edits in {', '.join(folders)} are still in your tree: do not "
                    "commit them. Undo them with the `git restore` command printed below, "
                    "commit or remove the other files, then `nox -s release` releases this "
                    "plan:",
                    replan="base",
                    refusal=refusal,
                    outside=outside,
                )
            return Pending(
                "restore and plan again",
                f"Release {rid} stopped while writing versions and changelogs, before its "
                f"commit: `nox -s release` restores {', '.join(folders)} to {base[:12]} and "
                "plans again. The uncommitted edits there are that release's: do not commit "
                "them. It releases this plan:",
                replan="base",
            )
        commit = adopted
    if journal.index != options.index_label():
        refusal = (
            f"release {rid} in progress uploads to {journal.index}, but this run targets "
            f"{options.index_label()}; re-run with the same index options to resume, or "
            "`--abandon` it"
        )
        return Pending("resume", f"Release {rid} is in progress:", refusal=refusal)
    if head != commit:
        refusal = resume_elsewhere(git, rid, commit)
        return Pending("resume", f"Release {rid} is in progress:", refusal=refusal)
    try:
        check_releasable(git)  # as the run checks before it resumes
        refusal = None
    except ReleaseError as exc:
        refusal = str(exc)
    if adopted is not None:
        message = (
            f"Release {rid} stopped right after committing: `nox -s release` adopts its "
            f"release commit {adopted[:12]} and resumes it:"
        )
    else:
        message = (
            f"A release is in progress ({rid}, on commit {commit[:12]}): `nox -s release` "
            "resumes it:"
        )
    return Pending("resume", message, refusal=refusal)


@contextmanager
def _planning_tree(git: Git, journal: Journal | None, pending: Pending | None) -> Iterator[Path]:
    """The tree the run would plan from: this one, or the release's base commit with the
    uncommitted files outside the release's folders (a run first restores those folders)."""
    if journal is None or pending is None or pending.replan != "base":
        yield git.root
        return
    with detached_tree(git, journal.base_commit) as tree:
        for rel in pending.outside:
            source, target = git.root / rel, tree / rel
            if source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
            elif target.is_file():
                target.unlink()
        yield tree


def _record_as_dict(record: PackageRecord) -> dict[str, Any]:
    """A journal record in the shape of a plan entry (see :meth:`Entry.as_dict`)."""
    return {
        "name": record.name,
        "folder": record.folder,
        "current": record.previous,
        "next": record.version,
        "bump": record.bump,
        "order": record.order,
        "tag": tag_name(record.name, record.version),
        "pins": record.pins,
        "private": False,
        "why": record.why,
        "state": record.state,
    }


def _run(root: Path, args: argparse.Namespace) -> int:
    options = _options(root, args)
    if args.abandon:
        archived = abandon(options)
        print(
            f"abandoned; journal archived at {archived}" if archived else "no release in progress"
        )
        return 0
    release(options)
    return 0


def _owners(root: Path, args: argparse.Namespace) -> int:
    git = Git(root)
    base = args.base or _default_base(git)
    files = (
        git.changed_since(base)
        if base
        else sorted({line[3:].split(" -> ")[-1] for line in git.dirty()})
    )
    review = review_for(load_workspace(root), files)
    print(json.dumps(review.as_dict(), indent=2) if args.json else review.text(base or "HEAD"))
    return 0


def _default_base(git: Git) -> str | None:
    """The ref a change is compared with: the PR base in CI, the upstream, else main."""
    if os.environ.get("GITHUB_BASE_REF"):
        return f"origin/{os.environ['GITHUB_BASE_REF']}"
    for candidate in ("@{u}", "origin/main", "main"):
        if (
            git.ok("rev-parse", "--verify", "--quiet", candidate)
            and git("rev-parse", candidate) != git.head()
        ):
            return candidate
    return None


def _codeowners(root: Path, *, check: bool) -> int:
    workspace = load_workspace(root)
    if check:
        problem = codeowners_problem(workspace)
        if problem:
            print(f"release: error: {problem}", file=sys.stderr)
            return 1
        print(".github/CODEOWNERS is up to date")
        return 0
    print(f"wrote {write_codeowners(workspace).relative_to(root)}")
    return 0
