"""``python -m tools.release``: the commands behind the nox release sessions."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ._errors import ReleaseError
from ._git import Git
from ._journal import STATES, Journal
from ._owners import codeowners_problem, review_for, write_codeowners
from ._pipeline import Options, abandon, release
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
    run.add_argument("--json", action="store_true", help="with --dry-run: the plan as JSON")
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
    run.add_argument(
        "--index-dir", type=Path, help="storage of the local pypiserver (default: .release/index)"
    )

    plan = commands.add_parser("plan", parents=[common], help="same as run --dry-run")
    plan.add_argument("--json", action="store_true")
    plan.add_argument("--only", action="append", metavar="PKG")

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
    _index_options(verify)

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


def _index_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index-url",
        default=os.environ.get("TRELLIS_RELEASE_INDEX_URL") or None,
        help="simple API of the index to release to (env TRELLIS_RELEASE_INDEX_URL; default: "
        "a local pypiserver); credentials from TWINE_USERNAME / TWINE_PASSWORD",
    )
    parser.add_argument(
        "--upload-url",
        default=os.environ.get("TRELLIS_RELEASE_UPLOAD_URL") or None,
        help="where twine uploads (default: the index URL without simple/)",
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status (1 on a release error, with its message)."""
    args = _parser().parse_args(argv)
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


def _plan(root: Path, args: argparse.Namespace) -> int:
    workspace = load_workspace(root)
    git = Git(root)
    plan = make_plan(workspace, git, only=set(args.only) if args.only else None)
    journal = Journal.load(root / ".release" / "journal.json")
    if args.json:
        data = plan.as_dict()
        if journal is not None and journal.status == "in-progress":
            data["in_progress"] = {
                "id": journal.id,
                "packages": {p.name: p.state for p in journal.packages},
            }
        print(json.dumps(data, indent=2))
    else:
        if journal is not None and journal.status == "in-progress":
            print(f"A release is in progress ({journal.id}); `nox -s release` resumes it:")
            print(journal.summary())
            print()
        print(plan.table())
        dirty = git.dirty()
        if dirty:
            print(
                f"\nnote: {len(dirty)} uncommitted change(s) are included above; a real "
                "release refuses to start until they are committed"
            )
        for problem in plan.problems:
            print(f"\nerror: {problem}", file=sys.stderr)
    return 1 if plan.problems else 0


def _run(root: Path, args: argparse.Namespace) -> int:
    options = Options(
        root=root,
        index_url=args.index_url,
        upload_url=args.upload_url,
        public=_public(args),
        index_dir=args.index_dir.resolve() if args.index_dir else None,
        only=frozenset(args.only) if args.only else None,
        stop_after=args.stop_after,
        jobs=args.jobs,
    )
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
