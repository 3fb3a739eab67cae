"""``python -m tools.path``: the options, and the exit status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ._errors import PathError
from ._run import STAGES, Options, report, run_path

ROOT = Path(__file__).resolve().parents[2]


def parse_stages(text: str) -> tuple[int, ...]:
    """``"1,3"`` → ``(1, 3)``: sorted, each stage once.

    :raises argparse.ArgumentTypeError: empty, or a part that is not one of the stages.
    """
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of stages: give stage numbers separated by commas, "
            "e.g. --stages 1,3"
        )
    chosen = set()
    for part in parts:
        if not (part.isascii() and part.isdigit()) or int(part) not in STAGES:
            raise argparse.ArgumentTypeError(
                f"{part!r} is not a stage: choose from {', '.join(map(str, STAGES))} "
                "(1 monolith, 2 git submodule and git URL, 3 library from an index, "
                "4 service), e.g. --stages 1,3"
            )
        chosen.add(int(part))
    return tuple(sorted(chosen))


def _iterations(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.path",
        description=(
            "Run the unchanged consumer in examples/consumer against trellis-blobs at each "
            "stage of the path: 1 monolith (editable), 2 git submodule and git URL of a "
            "release tag, 3 wheel from an index, 4 remote service. See shared-docs/the-path.md."
        ),
    )
    parser.add_argument(
        "--stages",
        type=parse_stages,
        default=STAGES,
        metavar="N,N,...",
        help="the stages to run (default: 1,2,3,4)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (venvs, clone, logs)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "bench-results" / "path.json",
        help="where the JSON goes (default: %(default)s)",
    )
    parser.add_argument(
        "--iterations",
        type=_iterations,
        default=200,
        help="timed 1 KiB puts and gets per stage (default: %(default)s)",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the path; 0 when every stage passed and the consumer never changed, else 1."""
    args = parser().parse_args(argv)
    options = Options(
        root=args.root,
        stages=args.stages,
        keep=args.keep,
        output=args.output,
        iterations=args.iterations,
    )
    try:
        outcome = run_path(options)
    except PathError as exc:
        print(f"path: error: {exc}", file=sys.stderr)
        return 1
    print(report(outcome))
    print(f"\nwrote {options.output}")
    if not outcome.ok:
        print("path: error: the path is not proven (see above)", file=sys.stderr)
        return 1
    return 0
