"""Shared benchmark harness: records, timing helpers, the result table and the CLI.

Stdlib only. Every area module (``bench/areas/<area>.py``) exposes ``run() -> list[Record]``;
``bench/run.py`` discovers the areas and hands them to :func:`main`.

Noise: benchmarks run on small, shared machines. Micro-benchmarks therefore repeat each
measurement several times, interleave the variants they compare (so a burst of background
load hits all of them alike) and report the *minimum* per-call time of the repeats — the
run least disturbed by other processes. Whole-process measurements (start-up times) vary
for real reasons and report the *median* of alternated runs instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from time import perf_counter_ns
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The monorepo root; results go to ``REPO_ROOT / "bench-results"``."""

RESULTS_DIR = REPO_ROOT / "bench-results"

AreaRunner = Callable[[], "list[Record]"]


@dataclass(slots=True)
class Record:
    """One measured number, optionally compared with a baseline and checked against a target.

    :param name: dotted, stable identifier, e.g. ``core.call.overhead_monitor_on``.
    :param value: the measurement, in ``unit``.
    :param unit: ``"us"``, ``"ms"``, ``"ns"``, ``"x"``...
    :param baseline_name: what ``value`` is compared with, if anything.
    :param baseline_value: the baseline's measurement, in the same unit.
    :param ratio: ``value / baseline_value``.
    :param target: human-readable target, e.g. ``"<= 1.3x baseline"`` or ``"< 50 ms"``.
    :param meets_target: whether ``value`` meets ``target``; ``None`` without a target.
    """

    name: str
    value: float
    unit: str
    baseline_name: str | None = None
    baseline_value: float | None = None
    ratio: float | None = None
    target: str | None = None
    meets_target: bool | None = None


def record(
    name: str,
    value: float,
    unit: str,
    *,
    baseline_name: str | None = None,
    baseline_value: float | None = None,
    target: str | None = None,
    check: Callable[[float, float | None], bool] | None = None,
) -> Record:
    """Build a :class:`Record`, computing ``ratio`` and ``meets_target``.

    :param check: ``check(value, ratio)`` decides ``meets_target``; required with ``target``.
    """
    ratio = value / baseline_value if baseline_value else None
    meets: bool | None = None
    if target is not None:
        if check is None:
            raise ValueError(f"record {name!r} has a target but no check")
        meets = bool(check(value, ratio))
    return Record(
        name=name,
        value=value,
        unit=unit,
        baseline_name=baseline_name,
        baseline_value=baseline_value,
        ratio=ratio,
        target=target,
        meets_target=meets,
    )


# -- timing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    """Per-call time of one timed statement, in nanoseconds."""

    best_ns: float
    median_ns: float
    number: int
    repeat: int

    @property
    def best_us(self) -> float:
        return self.best_ns / 1000


Stmt = str | Callable[[], object]


def _timer(stmt: Stmt, namespace: Mapping[str, Any] | None) -> timeit.Timer:
    # timeit compiles a string statement inline in its loop (no extra call frame per
    # iteration) and turns the garbage collector off while timing.
    return timeit.Timer(stmt, timer=perf_counter_ns, globals=dict(namespace or {}))


def _calibrate(timer: timeit.Timer, min_time_ns: int) -> int:
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= min_time_ns or number >= 1 << 26:
            return number
        # aim a bit past the minimum so we converge in few steps
        grow = int(min_time_ns * 1.2 / max(elapsed, 1))
        number = max(number * 2, min(number * grow, number * 100))


def time_calls(
    stmts: Mapping[str, Stmt],
    *,
    namespace: Mapping[str, Any] | None = None,
    repeat: int = 15,
    min_time_ms: float = 20.0,
) -> dict[str, Timing]:
    """Per-call times of several statements, measured side by side.

    Each statement is calibrated so one repeat takes at least ``min_time_ms``; then the
    repeats are interleaved (a, b, c, a, b, c, ...). Returns best-of-``repeat`` and median
    per-call times. A string statement is compiled into the timing loop with ``namespace``
    as its globals; a callable is called with no arguments (one extra call per iteration).
    """
    timers = {name: _timer(stmt, namespace) for name, stmt in stmts.items()}
    min_ns = int(min_time_ms * 1_000_000)
    numbers = {name: _calibrate(timer, min_ns) for name, timer in timers.items()}
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(repeat):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(numbers[name]) / numbers[name])
    return {
        name: Timing(min(values), statistics.median(values), numbers[name], repeat)
        for name, values in samples.items()
    }


@dataclass(frozen=True, slots=True)
class ProcessRun:
    """One run of a Python subprocess: wall time seen by the parent and what it printed."""

    wall_ms: float
    output: dict[str, Any]


def run_python(
    code: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    python: str = sys.executable,
    timeout: float = 60.0,
) -> ProcessRun:
    """Run ``python -c code`` and time it from the outside.

    If the snippet's last stdout line is a JSON object it is returned as ``output`` (a
    snippet reports in-process timings that way); otherwise ``output`` is empty.

    :raises RuntimeError: the subprocess failed, with its stderr.
    """
    start = perf_counter_ns()
    proc = subprocess.run(
        [python, "-c", code],
        env=dict(env) if env is not None else None,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall_ms = (perf_counter_ns() - start) / 1e6
    if proc.returncode != 0:
        raise RuntimeError(
            f"benchmark subprocess exited with {proc.returncode}:\n{proc.stderr.strip()}"
        )
    lines = proc.stdout.strip().splitlines()
    output: dict[str, Any] = {}
    if lines:
        try:
            parsed = json.loads(lines[-1])
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            output = parsed
    return ProcessRun(wall_ms, output)


@dataclass(frozen=True, slots=True)
class Snippet:
    """A Python snippet to run in a fresh subprocess (see :func:`run_python`)."""

    code: str
    env: Mapping[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None


def alternate_runs(
    snippets: Mapping[str, Snippet], *, runs: int, warmup: int = 1
) -> dict[str, list[ProcessRun]]:
    """Run each snippet ``runs`` times in fresh subprocesses, alternating between them.

    The order is reversed every other round so neither variant always runs first; ``warmup``
    untimed rounds warm the OS file cache (and a bytecode cache, if the env sets one).
    """
    for _ in range(warmup):
        for snippet in snippets.values():
            run_python(snippet.code, env=snippet.env, cwd=snippet.cwd)
    results: dict[str, list[ProcessRun]] = {name: [] for name in snippets}
    order = list(snippets)
    for i in range(runs):
        for name in order if i % 2 == 0 else reversed(order):
            snippet = snippets[name]
            results[name].append(run_python(snippet.code, env=snippet.env, cwd=snippet.cwd))
    return results


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without settings that change what Trellis or Django load."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRELLIS_", "DJANGO_"))
        and key not in {"DATABASE_URL", "PYTHONSTARTUP", "PYTHONPROFILEIMPORTTIME"}
    }
    env.update(extra)
    return env


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


# -- reporting ---------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_table(records: Sequence[Record]) -> str:
    """The records as an aligned plain-text table."""
    header = ("name", "value", "unit", "baseline", "base value", "ratio", "target", "ok")
    rows = [header]
    for r in records:
        ok = "-" if r.meets_target is None else ("yes" if r.meets_target else "NO")
        rows.append(
            (
                r.name,
                _fmt(r.value),
                r.unit,
                r.baseline_name or "-",
                _fmt(r.baseline_value),
                "-" if r.ratio is None else f"{r.ratio:.2f}x",
                r.target or "-",
                ok,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {1, 4, 5}  # numbers
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(area: str, records: Sequence[Record]) -> Path:
    """Print the records as a table and write them to ``bench-results/<area>.json``."""
    print(f"\n== {area} ==")
    print(format_table(records))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{area}.json"
    path.write_text(json.dumps([asdict(r) for r in records], indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO_ROOT)}")
    return path


# -- CLI ---------------------------------------------------------------------------------------


def main(area_runners: Mapping[str, AreaRunner], argv: Sequence[str] | None = None) -> int:
    """``run.py [AREA ...]``: run every area, or the named ones, and report each.

    :return: 0 on success, 2 for an unknown area name.
    """
    available = ", ".join(sorted(area_runners)) or "(none)"
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=f"Run Trellis benchmarks. Areas: {available}.",
    )
    parser.add_argument("areas", nargs="*", metavar="AREA", help="areas to run (default: all)")
    args = parser.parse_args(argv)
    names: list[str] = args.areas or sorted(area_runners)
    unknown = [name for name in names if name not in area_runners]
    if unknown:
        print(
            f"unknown benchmark area(s): {', '.join(unknown)}; available areas: {available}",
            file=sys.stderr,
        )
        return 2
    for name in dict.fromkeys(names):
        start = perf_counter_ns()
        records = area_runners[name]()
        report(name, records)
        print(f"({name}: {(perf_counter_ns() - start) / 1e9:.1f} s)")
    return 0
