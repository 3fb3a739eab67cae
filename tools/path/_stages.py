"""The four stages: how each one installs trellis-blobs, and the consumer run against it.

Each stage makes a fresh venv with uv, installs trellis-blobs its way (timed), then runs the
unchanged consumer in a copy of its own: which versions it got and where ``trellis.blobs``
was imported from, its pytest suite, and its timing script. The consumer copy is hashed after
the run and compared with ``examples/consumer``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from ._consumer import Digest, copy_consumer, differences, digest_tree
from ._errors import PathError, StageNotRunnable
from ._proc import Logger, clean_env, run, show, tail, tool
from ._release import Release, git
from ._report import Row
from ._service import blobs_service

PYPI = "https://pypi.org/simple/"
SUBMODULE = "vendor/trellis"
"""Where the stage 2 consumer repository keeps the monorepo as a git submodule."""


@dataclass
class Context:
    """What every stage needs: where things are, what the consumer's files must be, the log."""

    root: Path
    run_dir: Path
    consumer: Path
    expected: Digest
    iterations: int
    log: Logger
    uv_cache: Path
    differences: list[str] = field(default_factory=list)

    def uv_env(self) -> dict[str, str]:
        """uv's environment: none of the caller's uv/pip settings, the run's own cache."""
        return clean_env({"UV_CACHE_DIR": str(self.uv_cache)})


def uv() -> str:
    """The uv the release tools pin (beside this interpreter)."""
    return tool("uv")


def make_venv(ctx: Context, path: Path, commands: list[str]) -> Path:
    """A fresh venv at ``path`` made with uv from this interpreter; its python."""
    command = [uv(), "venv", "--quiet", "--no-config", "--python", sys.executable, str(path)]
    commands.append(show(command))
    run(command, env=ctx.uv_env(), what=f"uv venv {path}", log=ctx.log, timeout=300)
    return path / "bin" / "python"


def install(ctx: Context, python: Path, args: Sequence[str], commands: list[str]) -> float:
    """``uv pip install <args>`` into ``python``'s venv; the seconds it took."""
    command = [uv(), "pip", "install", "--quiet", "--no-config", "--python", str(python), *args]
    commands.append(show(command))
    started = time.monotonic()
    run(command, env=ctx.uv_env(), what="uv pip install", log=ctx.log, timeout=900)
    return time.monotonic() - started


def from_index(index_url: str) -> list[str]:
    """uv options: Trellis names from the release index only, third-party ones from PyPI.

    ``first-index``: a name the release index has is never looked up on PyPI, so a squatted
    ``trellis-core`` there cannot win; ``--no-build``: wheels only, as published.
    """
    return [
        "--index-strategy",
        "first-index",
        "--no-build",
        "--index",
        index_url,
        "--default-index",
        PYPI,
    ]


def editable_args(root: Path) -> list[str]:
    """Stage 1's install arguments: trellis-core and trellis-blobs editable from ``root``."""
    return [
        "--default-index",
        PYPI,
        "-e",
        str(root / "packages" / "trellis-core"),
        "-e",
        f"{root / 'packages' / 'trellis-blobs'}[testing]",
    ]


def warm_cache(ctx: Context) -> bool:
    """Fill the run's uv cache with the third-party wheels (untimed), by a stage 1 install.

    Every stage's install time is then what its way of installing costs, not the download
    of Django and pytest, whichever stage runs first. A failure (this checkout's working tree
    cannot be installed right now) is logged, not fatal: the install times then include
    downloads.

    :return: whether the cache was warmed.
    """
    ctx.log("warming the run's uv cache with the third-party wheels (not timed)")
    commands: list[str] = []
    try:
        python = make_venv(ctx, ctx.run_dir / "warm-venv", commands)
        install(ctx, python, editable_args(ctx.root), commands)
    except PathError as exc:
        ctx.log(f"warning: the cache was not warmed, install times include downloads: {exc}")
        return False
    return True


# -- running the consumer --------------------------------------------------------------------

_PROBE = """\
import importlib.metadata as metadata, json
import trellis.blobs
installed = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"] or ""
    if name.lower().replace("_", "-").startswith("trellis"):
        installed[name] = dist.version
print(json.dumps({"installed": installed, "blobs": trellis.blobs.__file__}))
"""


def exercise(
    ctx: Context,
    row: Row,
    python: Path,
    consumer: Path,
    *,
    stage_dir: Path,
    env: Mapping[str, str] | None = None,
    ignore: Sequence[str] = (),
    expect: Callable[[dict[str, str], Path], str | None] | None = None,
) -> None:
    """Run the consumer in ``consumer`` with ``python``: probe, pytest suite, timing script.

    Fills ``row`` in. The consumer's environment is the caller's minus its settings, plus
    ``TRELLIS_DATA_DIR`` (a fresh folder) and ``env``.

    :param ignore: top-level names in ``consumer`` that are not the consumer's files.
    :param expect: checks the probe (installed versions, where ``trellis.blobs`` came from);
        returns what is wrong, or ``None``.
    """
    data = stage_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    stage_env = clean_env({"TRELLIS_DATA_DIR": str(data), **(env or {})})
    row.commands.append(
        show([python, "-c", "<print the trellis-* versions, trellis.blobs.__file__>"])
    )
    try:
        probe = run(
            [str(python), "-c", _PROBE],
            env=stage_env,
            cwd=consumer,
            what=f"import trellis.blobs in stage {row.stage}",
            timeout=120,
        )
        found = json.loads(probe.stdout.strip().splitlines()[-1])
        row.installed = dict(sorted(found["installed"].items()))
        row.imported_from = str(found["blobs"])
        problem = expect(row.installed, Path(row.imported_from)) if expect else None
        if problem:
            raise PathError(problem)
        _suite(ctx, row, python, consumer, stage_dir, stage_env)
        _timing(ctx, row, python, consumer, stage_env)
    finally:
        after = digest_tree(consumer, ignore=ignore)
        ctx.differences += differences(ctx.expected, after, f"stage {row.stage} ({consumer})")
    if row.failed == 0:
        row.status = "passed"


def _suite(
    ctx: Context,
    row: Row,
    python: Path,
    consumer: Path,
    stage_dir: Path,
    env: Mapping[str, str],
) -> None:
    junit = stage_dir / "junit.xml"
    command = [
        str(python),
        "-m",
        "pytest",
        "-q",
        "--ds",
        "consumer.settings",
        "--junitxml",
        str(junit),
        "tests",
    ]
    row.commands.append(show(command))
    result = run(
        command,
        env=env,
        cwd=consumer,
        what=f"the consumer's suite in stage {row.stage}",
        check=False,
        timeout=1800,
        log=ctx.log,
    )
    (stage_dir / "pytest.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    if junit.is_file():
        row.passed, row.failed, row.skipped = suite_counts(junit)
    if result.returncode != 0:
        raise PathError(
            f"the consumer's suite failed (exit status {result.returncode}):\n"
            f"{tail(result.stdout + result.stderr, 2500)}"
        )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    ctx.log(f"  suite: {summary}")


def suite_counts(junit: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) from a pytest ``--junitxml`` report; errors count as failed."""
    # The report is the file pytest just wrote for this run, not outside input.
    root = ET.parse(junit).getroot()  # noqa: S314
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failed = skipped = 0
    for suite in suites:
        tests += int(suite.get("tests", "0"))
        failed += int(suite.get("failures", "0")) + int(suite.get("errors", "0"))
        skipped += int(suite.get("skipped", "0"))
    return tests - failed - skipped, failed, skipped


TIMING_RUNS = 3
"""Runs of the timing script per stage; the row shows the median of their p50s."""


def _timing(ctx: Context, row: Row, python: Path, consumer: Path, env: Mapping[str, str]) -> None:
    """Run the timing script :data:`TIMING_RUNS` times; keep the median of each p50.

    One burst of load from elsewhere on a small shared machine then moves one run, not the
    figure. Every run's figures are kept in ``row.details["timing_runs"]``.
    """
    command = [str(python), "-m", "consumer.timing", "--iterations", str(ctx.iterations)]
    runs = []
    for _ in range(TIMING_RUNS):
        row.commands.append(show(command))
        result = run(
            command,
            env=env,
            cwd=consumer,
            what=f"the consumer's timing script in stage {row.stage}",
            timeout=900,
            log=ctx.log,
        )
        runs.append(parse_timing(result.stdout))
    row.details["timing_runs"] = runs
    row.put_p50_ms = statistics.median(r["put_p50_ms"] for r in runs)
    row.get_p50_ms = statistics.median(r["get_p50_ms"] for r in runs)
    ctx.log(f"  p50 put {row.put_p50_ms:.3f} ms, get {row.get_p50_ms:.3f} ms (median of runs)")


def parse_timing(stdout: str) -> dict[str, float]:
    """The timing script's JSON line (its last line of output).

    :raises PathError: there is none, or it lacks ``put_p50_ms``/``get_p50_ms``.
    """
    lines = stdout.strip().splitlines()
    try:
        data: dict[str, Any] = json.loads(lines[-1])
        return {key: float(data[key]) for key in ("put_p50_ms", "get_p50_ms")}
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise PathError(
            f"the timing script printed no JSON line with put_p50_ms and get_p50_ms; its "
            f"output ended with: {tail(stdout, 500)!r}"
        ) from exc


def _guarded(row: Row, work: Callable[[], None]) -> Row:
    """Run a stage's ``work``; a failure becomes the row's status and note, not an exception."""
    try:
        work()
    except StageNotRunnable as exc:
        row.status, row.note = "not run", str(exc)
    except PathError as exc:
        row.status, row.note = "failed", str(exc)
    return row


# -- expectations: where the code must come from -----------------------------------------------


def from_folder(folder: Path, what: str) -> Callable[[dict[str, str], Path], str | None]:
    """``trellis.blobs`` must be imported from under ``folder``."""

    def check(installed: dict[str, str], blobs: Path) -> str | None:
        if blobs.resolve().is_relative_to(folder.resolve()):
            return None
        return f"trellis.blobs was imported from {blobs}, not from {what} ({folder})"

    return check


def from_venv(
    venv: Path, versions: Mapping[str, str]
) -> Callable[[dict[str, str], Path], str | None]:
    """``trellis.blobs`` must come from ``venv`` and each of ``versions`` be installed there."""

    def check(installed: dict[str, str], blobs: Path) -> str | None:
        problem = from_folder(venv, "the stage's venv")(installed, blobs)
        if problem:
            return problem
        have = {canonicalize_name(name): version for name, version in installed.items()}
        for name, version in versions.items():
            if have.get(canonicalize_name(name)) != version:
                return (
                    f"{name} {version} was expected in {venv}, found "
                    f"{have.get(canonicalize_name(name), 'none')}"
                )
        return None

    return check


def on_index(index_dir: Path, installed: Mapping[str, str]) -> str | None:
    """What is wrong if a ``trellis-*`` distribution installed is not a wheel of the index."""
    wheels: set[tuple[str, str]] = set()
    for path in index_dir.glob("*.whl"):
        try:
            parsed = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        wheels.add((parsed[0], str(parsed[1])))
    for name, version in installed.items():
        key = (str(canonicalize_name(name)), version)
        if key[0].startswith("trellis") and key not in wheels:
            return (
                f"{name} {version} is installed but the release index ({index_dir}) has no "
                "wheel of it: it came from somewhere else"
            )
    return None


# -- the stages ------------------------------------------------------------------------------


def stage_1(ctx: Context) -> Row:
    """Monolith: trellis-core and trellis-blobs editable from this checkout's working tree."""
    row = Row("1 monolith", "editable from this checkout (uv pip install -e packages/...)")
    stage_dir = ctx.run_dir / "stage-1"

    def work() -> None:
        python = make_venv(ctx, stage_dir / "venv", row.commands)
        row.install_seconds = install(ctx, python, editable_args(ctx.root), row.commands)
        consumer = copy_consumer(ctx.consumer, stage_dir / "consumer")
        expect = from_folder(ctx.root / "packages" / "trellis-blobs", "this checkout")
        exercise(ctx, row, python, consumer, stage_dir=stage_dir, expect=expect)

    ctx.log("stage 1: monolith (editable, in-tree)")
    return _guarded(row, work)


def stage_2_submodule(ctx: Context, release: Release) -> Row:
    """A consumer repository with the monorepo as a git submodule at the blobs release tag."""
    row = Row("2a submodule", "git submodule at the release tag, pip-installed from its paths")
    stage_dir = ctx.run_dir / "stage-2a"

    def work() -> None:
        tag = release.tag("trellis-blobs")
        row.how = f"git submodule {SUBMODULE} at {tag}, installed from its packages/ paths"
        repo = stage_dir / "consumer-repo"
        python = make_venv(ctx, stage_dir / "venv", row.commands)
        _git(row, "init", "--quiet", "--initial-branch=main", repo, log=ctx.log)
        copy_consumer(ctx.consumer, repo)
        _git(row, "-C", repo, "add", "--all", log=ctx.log)
        _git(row, "-C", repo, "commit", "--quiet", "-m", "The consumer", log=ctx.log)
        started = time.monotonic()
        _git(
            row,
            *("-C", repo, "-c", "protocol.file.allow=always"),
            *("submodule", "add", "--quiet", release.clone, SUBMODULE),
            log=ctx.log,
        )
        _git(row, "-C", repo / SUBMODULE, "checkout", "--quiet", tag, log=ctx.log)
        _git(row, "-C", repo, "add", SUBMODULE, log=ctx.log)
        _git(row, "-C", repo, "commit", "--quiet", "-m", f"trellis at {tag}", log=ctx.log)
        vendored = repo / SUBMODULE / "packages"
        args = [
            "--default-index",
            PYPI,
            str(vendored / "trellis-core"),
            f"{vendored / 'trellis-blobs'}[testing]",
        ]
        install(ctx, python, args, row.commands)
        row.install_seconds = time.monotonic() - started
        versions = {d: release.version(d) for d in ("trellis-core", "trellis-blobs")}
        exercise(
            ctx,
            row,
            python,
            repo,
            stage_dir=stage_dir,
            ignore=(".git", ".gitmodules", SUBMODULE.split("/")[0]),
            expect=from_venv(stage_dir / "venv", versions),
        )

    ctx.log("stage 2a: git submodule")
    return _guarded(row, work)


def _git(row: Row, *args: str | Path, log: Logger) -> str:
    row.commands.append(show(["git", *args]))
    return git(*args, log=log)


def git_url(clone: Path, dist: str, tag: str, extras: str = "") -> str:
    """The PEP 508 direct reference to ``dist`` at ``tag`` in the repository ``clone``."""
    return f"{dist}{extras} @ git+file://{clone}@{tag}#subdirectory=packages/{dist}"


def stage_2_git_url(ctx: Context, release: Release) -> Row:
    """trellis-core and trellis-blobs as git URLs of their release tags' subdirectories."""
    row = Row("2b git URL", "git+file://...@<tag>#subdirectory=packages/<dist>")
    stage_dir = ctx.run_dir / "stage-2b"

    def work() -> None:
        core, blobs = release.tag("trellis-core"), release.tag("trellis-blobs")
        row.how = f"git+file://<clone>@{blobs}#subdirectory=packages/trellis-blobs (+ {core})"
        python = make_venv(ctx, stage_dir / "venv", row.commands)
        args = [
            "--default-index",
            PYPI,
            git_url(release.clone, "trellis-core", core),
            git_url(release.clone, "trellis-blobs", blobs, "[testing]"),
        ]
        row.install_seconds = install(ctx, python, args, row.commands)
        consumer = copy_consumer(ctx.consumer, stage_dir / "consumer")
        versions = {d: release.version(d) for d in ("trellis-core", "trellis-blobs")}
        expect = from_venv(stage_dir / "venv", versions)
        exercise(ctx, row, python, consumer, stage_dir=stage_dir, expect=expect)

    ctx.log("stage 2b: git URL of a tagged subdirectory")
    return _guarded(row, work)


def stage_3(ctx: Context, release: Release, index_url: str) -> Row:
    """The wheels the release uploaded, installed by version from its local index."""
    row = Row("3 library", "wheel from the release's local index (trellis-blobs==<version>)")
    stage_dir = ctx.run_dir / "stage-3"

    def work() -> None:
        version = release.version("trellis-blobs")
        row.how = f"trellis-blobs=={version} wheel from the local index (pypiserver)"
        python = make_venv(ctx, stage_dir / "venv", row.commands)
        args = [*from_index(index_url), f"trellis-blobs[testing]=={version}"]
        row.install_seconds = install(ctx, python, args, row.commands)
        consumer = copy_consumer(ctx.consumer, stage_dir / "consumer")
        versions = {d: release.version(d) for d in ("trellis-core", "trellis-blobs")}
        venv_check = from_venv(stage_dir / "venv", versions)

        def expect(installed: dict[str, str], blobs: Path) -> str | None:
            return venv_check(installed, blobs) or on_index(release.index_dir, installed)

        exercise(ctx, row, python, consumer, stage_dir=stage_dir, expect=expect)

    ctx.log("stage 3: shared library from the index")
    return _guarded(row, work)


SERVICE_DIST = "trellis-blobs-service"
REMOTE_DIST = "trellis-remote"
STAGE_4_FILES = ("packages/trellis-remote/pyproject.toml", "services/blobs/pyproject.toml")
"""What stage 4 needs in the commit the release is made from."""


def stage_4(ctx: Context, release: Release, index_url: str) -> Row:
    """The consumer with ``TRELLIS_BLOBS_PROVIDER=remote`` against the blobs service."""
    row = Row("4 service", "remote provider (trellis-remote) against services/blobs")
    stage_dir = ctx.run_dir / "stage-4"

    def work() -> None:
        blobs, remote = release.version("trellis-blobs"), release.version(REMOTE_DIST)
        service = release.version(SERVICE_DIST)
        row.how = (
            f"trellis-blobs=={blobs} + trellis-remote=={remote} from the index, "
            f"provider remote -> {SERVICE_DIST}=={service} (gunicorn -w 2 --threads 4)"
        )
        python = make_venv(ctx, stage_dir / "venv", row.commands)
        args = [*from_index(index_url), f"trellis-blobs[testing]=={blobs}"]
        consumer_seconds = install(ctx, python, [*args, f"{REMOTE_DIST}=={remote}"], row.commands)
        service_venv = stage_dir / "service-venv"
        make_venv(ctx, service_venv, row.commands)
        service_args = [*from_index(index_url), f"{SERVICE_DIST}=={service}"]
        service_python = service_venv / "bin" / "python"
        service_seconds = install(ctx, service_python, service_args, row.commands)
        row.install_seconds = consumer_seconds + service_seconds
        row.details["install_seconds"] = {
            "consumer": round(consumer_seconds, 2),
            "service": round(service_seconds, 2),
        }
        consumer = copy_consumer(ctx.consumer, stage_dir / "consumer")
        versions = {
            "trellis-core": release.version("trellis-core"),
            "trellis-blobs": blobs,
            REMOTE_DIST: remote,
        }
        venv_check = from_venv(stage_dir / "venv", versions)

        def expect(installed: dict[str, str], where: Path) -> str | None:
            return venv_check(installed, where) or on_index(release.index_dir, installed)

        with blobs_service(
            service_venv, stage_dir / "service", log=ctx.log, commands=row.commands
        ) as running:
            row.details["service_start_seconds"] = round(running.started_seconds, 2)
            ctx.log(f"  service up at {running.url} in {running.started_seconds:.1f} s")
            env = {
                "TRELLIS_BLOBS_PROVIDER": "remote",
                "TRELLIS_REMOTE_BLOBS_URL": running.url,
                "TRELLIS_REMOTE_BLOBS_SECRET": running.secret,
            }
            exercise(ctx, row, python, consumer, stage_dir=stage_dir, env=env, expect=expect)
        _content_went_to_the_service(row, stage_dir)

    ctx.log("stage 4: service (remote provider)")
    return _guarded(row, work)


def _content_went_to_the_service(row: Row, stage_dir: Path) -> None:
    """The blobs stage 4 stored are in the service's data dir, none in the consumer's.

    Both run the filesystem provider's default root, ``<TRELLIS_DATA_DIR>/blobs``: the
    consumer's would only exist if its content had not gone through the remote provider.
    """
    local = stage_dir / "data" / "blobs"
    remote = stage_dir / "service" / "blobs"
    stored = sum(1 for path in remote.rglob("*") if path.is_file()) if remote.is_dir() else 0
    row.details["files_in_the_service"] = stored
    if local.exists() or not stored:
        row.status = "failed"
        row.note = (
            f"the consumer's content did not all go to the service: {stored} file(s) under "
            f"{remote}, and {local} {'exists' if local.exists() else 'does not exist'}"
        )


def not_run(stage: str, how: str, reason: str) -> Row:
    """A row for a stage that could not run, saying why."""
    return Row(stage, how, status="not run", note=reason)
