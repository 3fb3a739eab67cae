"""One run of the path: the stages asked for, the identity check, the table and the JSON."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.release import ReleaseError, local_index

from ._consumer import combined, differences, digest_tree
from ._errors import PathError
from ._proc import Logger, tool
from ._release import Release, committed, head, release_in_clone
from ._report import Row, as_json, notes, table, write_json
from ._stages import (
    STAGE_4_FILES,
    Context,
    stage_1,
    stage_2_git_url,
    stage_2_submodule,
    stage_3,
    stage_4,
    warm_cache,
)

STAGES = (1, 2, 3, 4)
CONSUMER = Path("examples") / "consumer"


@dataclass(frozen=True)
class Options:
    """What ``python -m tools.path`` was asked to do (see :mod:`tools.path._cli`)."""

    root: Path
    stages: tuple[int, ...] = STAGES
    keep: bool = False
    output: Path | None = None
    iterations: int = 200


@dataclass
class Outcome:
    """A finished run: its rows, what differed in the consumer, and the JSON written."""

    rows: list[Row]
    differences: list[str]
    data: dict[str, Any]
    kept: Path | None = None

    @property
    def ok(self) -> bool:
        """Every stage passed (a stage not run is not a pass) and the consumer never changed."""
        return not self.differences and all(row.ok for row in self.rows)


def _stderr(message: str) -> None:
    print(f"path: {message}", file=sys.stderr, flush=True)


def run_path(options: Options, *, log: Logger = _stderr) -> Outcome:
    """Run the stages in ``options``; the outcome (its JSON is also written to ``output``).

    :raises PathError: the consumer is missing, or a tool the stages need is not installed.
    """
    root = options.root.resolve()
    consumer = root / CONSUMER
    if not (consumer / "consumer" / "settings.py").is_file():
        raise PathError(f"{consumer} holds no consumer project (consumer/settings.py is missing)")
    for name in _tools(options.stages):
        tool(name)  # raises, naming the tool and how to install it
    expected = digest_tree(consumer)
    commit = head(root)  # what stages 2 to 4 release, even if HEAD moves during the run
    run_dir = Path(tempfile.mkdtemp(prefix="trellis-path-"))
    log(f"working in {run_dir}" + (" (kept: --keep)" if options.keep else ""))
    started = time.monotonic()
    try:
        ctx = Context(
            root=root,
            run_dir=run_dir,
            consumer=consumer,
            expected=expected,
            iterations=options.iterations,
            log=log,
            uv_cache=run_dir / "uv-cache",
        )
        warmed = warm_cache(ctx)
        rows, release = _stages(ctx, options.stages, commit)
        after = digest_tree(consumer)
        found = differences(expected, after, "examples/consumer (changed during the run)")
        found = ctx.differences + found
        consumer_record = {
            "files": len(expected),
            "sha256": combined(expected),
            "identical": not found,
            "differences": found,
        }
        data = as_json(
            rows,
            consumer=consumer_record,
            release=release.as_dict() if release else None,
            commit=commit,
        )
        data["warm_cache"] = warmed
        data["seconds"] = round(time.monotonic() - started, 1)
        if options.output is not None:
            write_json(options.output, data)
        return Outcome(rows, found, data, run_dir if options.keep else None)
    finally:
        if not options.keep:
            shutil.rmtree(run_dir, ignore_errors=True)


def _tools(stages: tuple[int, ...]) -> list[str]:
    """The executables the stages need: uv and git always; the release's tools for 2 to 4."""
    needed = ["uv", "git"]
    if {2, 3, 4} & set(stages):
        needed += ["twine", "towncrier", "pypi-server"]
    return needed


def _stages(ctx: Context, stages: tuple[int, ...], commit: str) -> tuple[list[Row], Release | None]:
    rows: list[Row] = []
    stage_4_missing = [rel for rel in STAGE_4_FILES if not committed(ctx.root, rel, commit)]
    if 1 in stages:
        rows.append(stage_1(ctx))
    if not {2, 3, 4} & set(stages):
        return rows, None
    try:
        release = release_in_clone(ctx.root, ctx.run_dir, commit, log=ctx.log)
    except PathError as exc:
        rows += _failed_without_release(stages, str(exc))
        return rows, None
    ctx.log(f"released in {release.seconds:.1f} s: {', '.join(release.as_dict()['tags'])}")
    if 2 in stages:
        rows.append(stage_2_submodule(ctx, release))
        rows.append(stage_2_git_url(ctx, release))
    if not {3, 4} & set(stages):
        return rows, release
    try:
        with local_index(release.index_dir, log=ctx.run_dir / "index.log") as index:
            ctx.log(f"serving {release.index_dir} at {index.simple} (no fallback)")
            if 3 in stages:
                rows.append(stage_3(ctx, release, index.simple))
            if 4 in stages:
                if stage_4_missing:
                    rows.append(_stage_4_missing(ctx, stage_4_missing, commit))
                else:
                    rows.append(stage_4(ctx, release, index.simple))
    except ReleaseError as exc:
        raise PathError(f"the local index could not be served: {exc}") from exc
    return rows, release


def _stage_4_missing(ctx: Context, missing: list[str], commit: str) -> Row:
    reason = (
        f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in commit "
        f"{commit[:12]} "
        "(the release clones HEAD): commit trellis-remote and services/blobs, or run the "
        "other stages with --stages 1,2,3"
    )
    ctx.log(f"stage 4 not run: {reason}")
    return Row(
        "4 service",
        "remote provider (trellis-remote) against services/blobs",
        status="not run",
        note=reason,
    )


def _failed_without_release(stages: tuple[int, ...], reason: str) -> list[Row]:
    rows = []
    if 2 in stages:
        rows.append(Row("2a submodule", "git submodule at the release tag", "failed", note=reason))
        rows.append(Row("2b git URL", "git+file URL of the release tag", "failed", note=reason))
    if 3 in stages:
        rows.append(Row("3 library", "wheel from the release's local index", "failed", note=reason))
    if 4 in stages:
        rows.append(
            Row("4 service", "remote provider against services/blobs", "failed", note=reason)
        )
    return rows


def report(outcome: Outcome) -> str:
    """What the CLI prints: the table, the notes, and the verdict on the consumer's files."""
    parts = [table(outcome.rows)]
    if notes(outcome.rows):
        parts.append(notes(outcome.rows))
    consumer = outcome.data["consumer"]
    if outcome.differences:
        parts.append(
            "the consumer is NOT byte-identical across the stages:\n  "
            + "\n  ".join(outcome.differences)
        )
    else:
        parts.append(
            f"consumer byte-identical in every stage: {consumer['files']} files, "
            f"sha256 of the tree {consumer['sha256'][:16]}"
        )
    release = outcome.data.get("release")
    if release:
        parts.append(
            f"release in a throwaway clone of {release['commit'][:12]}: "
            f"{', '.join(release['tags'])} in {release['seconds']} s"
            + (
                " (then it failed: see the stages that needed the rest)"
                if release["failure"]
                else ""
            )
        )
    if outcome.kept:
        parts.append(f"kept: {outcome.kept}")
    return "\n\n".join(parts)
