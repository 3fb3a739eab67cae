"""Benchmark area ``release``: the release pipeline against the naive loop, on this repository.

Everything runs on snapshots of this checkout (its tracked and untracked, not ignored files,
copied into a temporary git repository with one changelog fragment per public package), so
the checkout itself is never touched. Side by side, alternating, in one run:

* **pipeline_all** — ``python -m tools.release run`` releasing every public package for the
  first time: plan, commit, ``uv build`` (two at a time, hash-pinned build tools), ``twine
  check --strict``, a check that every in-repo requirement can be met, start a local
  pypiserver, upload, verify each package from it (uv venv, lock with a provenance check,
  install, import, ``trellis plugins``, contract suite), tag.
* **careful_all** (the fair baseline) — the best simple loop a careful engineer would write,
  in dependency order: ``uv build``, ``twine upload`` to a pypiserver started once, then per
  package ``uv venv`` + ``uv pip install --index-url <local> --extra-index-url <PyPI>
  <dist>==<version>`` and ``trellis plugins``. Target: the pipeline, with all its checks and
  its verification, at most 1.0x this loop (``release.pipeline_all_vs_careful``).
* **naive_all** (the first baseline) — what a person would script: per package ``python -m build``,
  a pypiserver started once, ``twine upload``, then per package ``python -m venv`` and
  ``pip install --index-url <local> --extra-index-url <PyPI> <dist>==<version>`` and
  ``trellis plugins``.

Then, on the pipeline's repository: **one_leaf** — a change to one package nothing else
depends on (fragment included), released end to end; and **noop** — the same command run
again, which finds nothing to release.

Whole-process wall times; the median of ``ROUNDS`` alternated rounds. Every side uses warm
caches, as a release manager's machine would: the loops uv's and pip's own, the pipeline a
copy of its ``.release/uv-cache`` from one untimed release made first.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import REPO_ROOT, Record, clean_env, median, record
from trellis.core.testing import stop_process

ROUNDS = 2
PUBLIC_INDEX = "https://pypi.org/simple/"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Trellis bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Trellis bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def _env() -> dict[str, str]:
    return clean_env(**GIT_IDENTITY)


def _run(command: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, command))} exited with {result.returncode}:\n"
            f"{(result.stdout + result.stderr)[-4000:]}"
        )
    return result.stdout


def _timed(command: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    _run(command, cwd=cwd, env=env)
    return time.perf_counter() - start


def _git(repo: Path, *args: str) -> str:
    return _run(["git", "-C", repo, *args], cwd=repo).strip()


def _snapshot(target: Path) -> Path:
    """Copy this checkout (not ignored files) into a new git repository with fragments."""
    listed = _run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT).splitlines()
    for rel in listed:
        source = REPO_ROOT / rel
        if source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    _git(target, "init", "--quiet", "--initial-branch=main")
    for name in _public_packages(target):
        fragments = target / "packages" / name / "changelog.d"
        fragments.mkdir(parents=True, exist_ok=True)
        (fragments / "+bench.feature.md").write_text("Benchmark release.\n", encoding="utf-8")
    _git(target, "add", "--all")
    _git(target, "commit", "--quiet", "-m", "snapshot for the release benchmark")
    return target


def _public_packages(root: Path) -> list[str]:
    sys.path.insert(0, str(REPO_ROOT))
    from tools.release import load_workspace

    workspace = load_workspace(root)
    public = [n for n, p in workspace.projects.items() if not p.private]
    return workspace.order(public)


def _leaf(root: Path) -> str:
    from tools.release import load_workspace

    workspace = load_workspace(root)
    public = _public_packages(root)
    leaves = [n for n in public if not (workspace.dependents(n) & set(public))]
    return leaves[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pipeline(repo: Path) -> float:
    command: list[str | Path] = [sys.executable, "-m", "tools.release", "--root", repo, "run"]
    return _timed(command, cwd=REPO_ROOT)


def _naive(repo: Path, tools: Path, work: Path) -> float:
    """The naive loop over every public package; returns its wall time."""
    from tools.release import load_workspace

    workspace = load_workspace(repo)
    names = _public_packages(repo)
    env = {k: v for k, v in _env().items() if k != "PIP_FIND_LINKS"}
    start = time.perf_counter()
    port = _free_port()
    index_dir = work / "naive-index"
    index_dir.mkdir()
    server = _pypiserver(port, index_dir)
    try:
        for name in names:
            out = work / "naive-dist" / name
            _run(
                [
                    tools / "bin/python",
                    "-m",
                    "build",
                    "--outdir",
                    out,
                    workspace.projects[name].path,
                ],
                cwd=work,
            )
            _upload(tools, port, sorted(out.iterdir()), work, env)
        for name in names:
            venv = work / f"naive-venv-{name}"
            _run([sys.executable, "-m", "venv", venv], cwd=work)
            _run(
                [
                    venv / "bin/python",
                    "-m",
                    "pip",
                    "install",
                    "--isolated",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--index-url",
                    f"http://127.0.0.1:{port}/simple/",
                    "--extra-index-url",
                    PUBLIC_INDEX,
                    f"{name}=={workspace.projects[name].version}",
                ],
                cwd=work,
                env=env,
            )
            _run([venv / "bin/trellis", "plugins"], cwd=work, env=clean_env())
    finally:
        stop_process(server)
    return time.perf_counter() - start


def _careful(repo: Path, tools: Path, work: Path) -> float:
    """The best simple loop a careful person would write, with uv; returns its wall time.

    In dependency order: ``uv build`` of each package, ``twine upload`` to a local pypiserver
    started once, then per package ``uv venv`` + ``uv pip install`` of the released version
    (the local index first, the public index for third-party packages) and ``trellis
    plugins``. No plan, changelog, checks, provenance proof, contract suite or tags.
    """
    from tools.release import load_workspace

    workspace = load_workspace(repo)
    names = _public_packages(repo)
    uv = Path(sys.executable).parent / "uv"
    env = {k: v for k, v in _env().items() if k != "PIP_FIND_LINKS"}
    start = time.perf_counter()
    port = _free_port()
    index_dir = work / "careful-index"
    index_dir.mkdir()
    server = _pypiserver(port, index_dir)
    try:
        for name in names:
            out = work / "careful-dist" / name
            project = workspace.projects[name].path
            _run([uv, "build", "--quiet", "--out-dir", out, project], cwd=work)
            built = sorted([*out.glob("*.whl"), *out.glob("*.tar.gz")])  # uv adds a .gitignore
            _upload(tools, port, built, work, env)
        for name in names:
            venv = work / f"careful-venv-{name}"
            _run([uv, "venv", "--quiet", "--python", sys.executable, venv], cwd=work)
            _run(
                [
                    uv,
                    "pip",
                    "install",
                    "--quiet",
                    "--python",
                    venv / "bin/python",
                    "--index-url",
                    f"http://127.0.0.1:{port}/simple/",
                    "--extra-index-url",
                    PUBLIC_INDEX,
                    f"{name}=={workspace.projects[name].version}",
                ],
                cwd=work,
                env=env,
            )
            _run([venv / "bin/trellis", "plugins"], cwd=work, env=clean_env())
    finally:
        stop_process(server)
    return time.perf_counter() - start


def _pypiserver(port: int, directory: Path) -> subprocess.Popen[bytes]:
    """A local pypiserver without authentication or fallback, up when this returns."""
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "pypi-server"),
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-a",
            ".",
            "-P",
            ".",
            "--disable-fallback",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return server


def _upload(tools: Path, port: int, files: list[Path], work: Path, env: dict[str, str]) -> None:
    _run(
        [
            tools / "bin/twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            f"http://127.0.0.1:{port}/",
            "-u",
            "x",
            "-p",
            "x",
            *files,
        ],
        cwd=work,
        env=env,
    )


def _naive_tools(work: Path) -> Path:
    """A venv with ``build`` and ``twine`` for the naive loop (set up untimed)."""
    tools = work / "naive-tools"
    uv = Path(sys.executable).parent / "uv"
    _run([uv, "venv", "--quiet", "--python", sys.executable, tools], cwd=work)
    _run(
        [uv, "pip", "install", "--quiet", "--python", tools / "bin/python", "build", "twine"],
        cwd=work,
    )
    return tools


def _change_leaf(repo: Path) -> str:
    leaf = _leaf(repo)
    folder = repo / "packages" / leaf
    version_file = next(folder.glob("src/**/_version.py"))
    source = version_file.parent / "__init__.py"
    source.write_text(
        source.read_text(encoding="utf-8") + "\n# benchmark change\n", encoding="utf-8"
    )
    (folder / "changelog.d").mkdir(exist_ok=True)
    (folder / "changelog.d" / "+bench-leaf.fix.md").write_text("A leaf fix.\n", encoding="utf-8")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "-m", f"change {leaf}")
    return leaf


def run() -> list[Record]:
    pipeline_times: list[float] = []
    naive_times: list[float] = []
    careful_times: list[float] = []
    leaf_times: list[float] = []
    noop_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="trellis-bench-release-") as tmp:
        base = Path(tmp)
        tools = _naive_tools(base)
        probe = _snapshot(base / "probe")
        packages = _public_packages(probe)
        # Warm the pipeline's own uv cache (.release/uv-cache) once, untimed, as on a release
        # manager's machine after a first release; each timed run starts with a copy of it,
        # as the other sides start with uv's and pip's warm caches.
        _pipeline(probe)
        warm_cache = probe / ".release" / "uv-cache"
        for i in range(ROUNDS):
            sides = ("pipeline", "careful", "naive")
            order = sides if i % 2 == 0 else sides[::-1]
            for side in order:
                work = base / f"{side}-{i}"
                work.mkdir()
                repo = _snapshot(work / "repo")
                if side == "naive":
                    naive_times.append(_naive(repo, tools, work))
                    continue
                if side == "careful":
                    careful_times.append(_careful(repo, tools, work))
                    continue
                shutil.copytree(warm_cache, repo / ".release" / "uv-cache", symlinks=True)
                pipeline_times.append(_pipeline(repo))
                _change_leaf(repo)
                leaf_times.append(_pipeline(repo))
                noop_times.append(_pipeline(repo))
                shutil.rmtree(repo / ".release" / "venvs", ignore_errors=True)
    pipeline, naive = median(pipeline_times), median(naive_times)
    careful = median(careful_times)
    leaf, noop = median(leaf_times), median(noop_times)
    label = f"{len(packages)} package(s): {', '.join(packages)}"
    return [
        record(
            f"release.pipeline_all ({label})",
            pipeline,
            "s",
            baseline_name="naive build/upload/venv+pip loop",
            baseline_value=naive,
            target="<= 0.4x baseline",
            check=lambda _v, ratio: ratio is not None and ratio <= 0.4,
        ),
        record(
            "release.pipeline_all_vs_careful",
            pipeline,
            "s",
            baseline_name="careful uv build/twine upload/uv venv+uv pip loop",
            baseline_value=careful,
            target="<= 1.0x baseline",
            check=lambda _v, ratio: ratio is not None and ratio <= 1.0,
        ),
        record("release.naive_all", naive, "s"),
        record("release.careful_all", careful, "s"),
        record(
            "release.one_leaf_package",
            leaf,
            "s",
            target="< 10 s",
            check=lambda value, _r: value < 10,
        ),
        record("release.noop_rerun", noop, "s", target="< 3 s", check=lambda value, _r: value < 3),
    ]
