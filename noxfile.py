"""Every Trellis workflow: tests, lint, docs, serve, bench.

Sessions are discovered from ``packages/*/pyproject.toml`` and ``services/*/pyproject.toml``;
adding a package adds its test session with no edit here. ``nox -l`` lists them.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint", "docs"]
nox.options.error_on_missing_interpreters = True


def _projects(folder: str) -> dict[str, Path]:
    """Distribution name → folder for every ``<folder>/*/pyproject.toml``."""
    found = {}
    for pyproject in sorted((ROOT / folder).glob("*/pyproject.toml")):
        with pyproject.open("rb") as handle:
            found[tomllib.load(handle)["project"]["name"]] = pyproject.parent
    return found


PACKAGES = _projects("packages")
SERVICES = _projects("services")
ALL = {**PACKAGES, **SERVICES}


def _install_everything(session: nox.Session) -> None:
    """Every package and service, editable with all extras, plus the test tools."""
    editable = _editable(dict.fromkeys(ALL))
    session.install(*editable, *nox.project.dependency_groups(PYPROJECT, "test"))


# -- development ---------------------------------------------------------------------------------


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite (every package and service) in one environment."""
    _install_everything(session)
    # Two workers, a test file each: most of the suite waits on subprocesses and servers
    # (installs, workers, consumers), so one process leaves a 2-core machine half idle.
    session.run("pytest", "-n", "2", "--dist", "loadfile", *session.posargs)


@nox.session(name="test", default=False)
@nox.parametrize("project", list(ALL), ids=list(ALL))
def test_one(session: nox.Session, project: str) -> None:
    """Run one package's or service's tests, with only what it declares installed.

    That is the project with all its extras, its in-repo siblings (from this checkout), and
    its own ``[dependency-groups] test``; ``tools/declared.py`` refuses to run the tests if
    anything else is installed.
    """
    path = ALL[project]
    if not (path / "tests").is_dir():
        session.skip(f"{project} has no tests/ folder")
    project_toml = nox.project.load_toml(path / "pyproject.toml")
    group = nox.project.dependency_groups(project_toml, "test") if _has_test_group(path) else ()
    # An in-repo project named by the group (hq's tests drive trellis-blobs) comes from this
    # checkout, never from an index, like every sibling.
    roots: dict[str, set[str] | None] = {project: None}
    others = []
    for spec in group:
        requirement = Requirement(spec)
        if requirement.name in ALL:
            roots.setdefault(requirement.name, set(requirement.extras))
        else:
            others.append(spec)
    session.install(*_editable(roots), *others)
    session.run("python", str(ROOT / "tools" / "declared.py"), str(path.relative_to(ROOT)))
    session.run("pytest", str((path / "tests").relative_to(ROOT)), *session.posargs)


def _has_test_group(path: Path) -> bool:
    with (path / "pyproject.toml").open("rb") as handle:
        return "test" in tomllib.load(handle).get("dependency-groups", {})


def _editable(roots: dict[str, set[str] | None]) -> list[str]:
    """``-e`` arguments for in-repo projects and, transitively, the in-repo packages they need.

    ``roots`` maps project names to the extras wanted (``None``: all of them). A sibling gets
    the extras its requirement asks for (``trellis-core[django]``), and the in-repo
    requirements of an extra count once the extra is wanted. Siblings always come from this
    checkout, never from an index (dependency confusion).
    """
    wanted: dict[str, set[str]] = {}
    pending = list(roots.items())
    while pending:
        name, extras = pending.pop()
        meta = tomllib.loads((ALL[name] / "pyproject.toml").read_text())["project"]
        optional: dict[str, list[str]] = meta.get("optional-dependencies", {})
        chosen = set(optional) if extras is None else set(extras) & set(optional)
        if name in wanted and chosen <= wanted[name]:
            continue
        wanted[name] = wanted.get(name, set()) | chosen
        requirements = list(meta.get("dependencies", []))
        for extra in sorted(chosen):
            requirements += optional[extra]
        for text in requirements:
            requirement = Requirement(text)
            if requirement.name in ALL:
                pending.append((requirement.name, set(requirement.extras)))
    args: list[str] = []
    for name, extras in wanted.items():
        spec = str(ALL[name].relative_to(ROOT))
        args += ["-e", f"{spec}[{','.join(sorted(extras))}]" if extras else spec]
    return args


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff, mypy (strict), import boundaries, pyproject validation, then workflows."""
    _install_everything(session)
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    sources = [str((path / "src").relative_to(ROOT)) for path in ALL.values()]
    session.run("mypy", *sources, env={"MYPYPATH": os.pathsep.join(sources)})
    session.run("mypy", "tools", "bench")
    session.run("lint-imports")
    for path in ALL.values():
        session.run("validate-pyproject", str((path / "pyproject.toml").relative_to(ROOT)))
    session.notify("workflows")  # actionlint, zizmor and the CODEOWNERS staleness check


@nox.session
def docs(session: nox.Session) -> None:
    """Check the hook reference against the code and run the docs' >>> examples."""
    _install_everything(session)
    session.run("pytest", "tests/test_docs.py", "tests/test_examples.py", *session.posargs)


@nox.session(default=False)
def serve(session: nox.Session) -> None:
    """Start hq and its demo, embedded profile, on 127.0.0.1:8000 (-- --soa: blobs as a service)."""
    _install_everything(session)
    args = list(session.posargs)
    soa = "--soa" in args
    args = [a for a in args if a != "--soa"]
    data_dir = os.environ.get("TRELLIS_DATA_DIR", str(ROOT / "var"))
    env = {"TRELLIS_DATA_DIR": data_dir}
    if soa:
        env.update(_start_blobs_service(session, Path(data_dir) / "blobs-service"))
    session.run("python", "-m", "hq", "migrate", "--no-input", env=env)
    session.run("python", "-m", "hq", "trellis_demo_admin", env=env)
    session.run("python", "-m", "hq", "hq_demo", env=env)  # once: a domain, a form, a report
    address = args[0] if args else "127.0.0.1:8000"
    session.log(
        f"dashboard: http://{address}/ (log in as the demo admin above)  "
        f"liveness: http://{address}/health/live  readiness: http://{address}/health/ready"
    )
    session.run("python", "-m", "hq", "runserver", address, env=env)


@nox.session(name="serve-scaled", default=False)
def serve_scaled(session: nox.Session) -> None:
    """Start hq's scaled profile (services/hq/Procfile) with honcho on PostgreSQL and Redis."""
    _install_everything(session)
    session.install(*nox.project.dependency_groups(PYPROJECT, "serve"))
    data_dir = os.environ.get("TRELLIS_DATA_DIR", str(ROOT / "var" / "scaled"))
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trellis_hq")
    session.run("python", "-c", _CREATE_DATABASE, database)
    redis = os.environ.get("TRELLIS_REDIS_URL", "redis://127.0.0.1:6379/1")
    env = {
        "TRELLIS_DATA_DIR": data_dir,
        "DATABASE_URL": database,
        "TRELLIS_TASKS_PROVIDER": "celery",
        "TRELLIS_TASKS_BROKER_URL": os.environ.get("TRELLIS_TASKS_BROKER_URL", redis),
        "TRELLIS_EVENTS_PROVIDER": "redis-streams",
        "TRELLIS_EVENTS_REDIS_URL": os.environ.get("TRELLIS_EVENTS_REDIS_URL", redis),
        "TRELLIS_CACHE_URL": os.environ.get("TRELLIS_CACHE_URL", redis),
    }
    session.run("python", "-m", "hq", "migrate", "--no-input", env=env)
    session.run("python", "-m", "hq", "trellis_demo_admin", env=env)
    session.run("python", "-m", "hq", "hq_demo", env=env)  # the consumer fills the report
    session.log(f"dashboard: http://{os.environ.get('TRELLIS_BIND', '127.0.0.1:8000')}/")
    procfile = str(ROOT / "services" / "hq" / "Procfile")
    session.run("honcho", "start", "-f", procfile, "-d", data_dir, env=env)


# Creates the scaled profile's database when it is missing (PostgreSQL has no IF NOT EXISTS).
_CREATE_DATABASE = """
import sys
import psycopg
from psycopg import sql
url = sys.argv[1]
server, name = url.rsplit("/", 1)
with psycopg.connect(server + "/postgres", autocommit=True, connect_timeout=10) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"created database {name}")
"""


@nox.session(name="serve-blobs", default=False)
def serve_blobs(session: nox.Session) -> None:
    """Start services/blobs alone under gunicorn at http://127.0.0.1:8001 (-- ADDRESS)."""
    _install_everything(session)
    data_dir = Path(os.environ.get("TRELLIS_DATA_DIR", str(ROOT / "var"))) / "blobs-service"
    secret = os.environ.get("TRELLIS_REMOTE_SECRET", "")
    if not secret:
        import secrets

        secret = secrets.token_hex(32)
        session.log(f"TRELLIS_REMOTE_SECRET={secret}  (new for this run; callers sign with it)")
    env = {"TRELLIS_DATA_DIR": str(data_dir), "TRELLIS_REMOTE_SECRET": secret}
    address = session.posargs[0] if session.posargs else "127.0.0.1:8001"
    session.run("python", "-m", "blobs_service", "migrate", "--no-input", env=env)
    session.log(
        f"callers: TRELLIS_BLOBS_PROVIDER=remote TRELLIS_REMOTE_BLOBS_URL=http://{address}/remote/"
    )
    gunicorn = ["gunicorn", "blobs_service.wsgi:application", "-b", address]
    session.run(*gunicorn, "--workers", "2", "--threads", "4", env=env)


def _start_blobs_service(session: nox.Session, data_dir: Path, port: int = 8001) -> dict[str, str]:
    """Start services/blobs under gunicorn on 127.0.0.1:``port``; return hq's client settings.

    A fresh shared secret each start (the service keeps content only, no sessions); the
    service stops when this session ends.
    """
    import atexit
    import secrets
    import subprocess
    import time
    import urllib.request

    secret = secrets.token_hex(32)
    env = {**os.environ, "TRELLIS_DATA_DIR": str(data_dir), "TRELLIS_REMOTE_SECRET": secret}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    python = str(Path(session.bin) / "python")
    data_dir.mkdir(parents=True, exist_ok=True)
    session.run("python", "-m", "blobs_service", "migrate", "--no-input", env=env)
    log = (data_dir / "service.log").open("ab")
    command = [python, "-m", "gunicorn", "blobs_service.wsgi:application", "--bind"]
    service = subprocess.Popen(
        [
            *command,
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--access-logfile",
            "-",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    atexit.register(service.terminate)
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1):
                break
        except OSError:
            if service.poll() is not None:
                session.error(f"services/blobs exited with {service.returncode}: see {log.name}")
            time.sleep(0.1)
    else:
        session.error(f"services/blobs did not answer on 127.0.0.1:{port}: see {log.name}")
    session.log(
        f"services/blobs: http://127.0.0.1:{port}/ (log: {log.name}), hq stores blobs there"
    )
    return {
        "TRELLIS_BLOBS_PROVIDER": "remote",
        "TRELLIS_REMOTE_BLOBS_URL": f"http://127.0.0.1:{port}/remote/",
        "TRELLIS_REMOTE_BLOBS_SECRET": secret,
    }


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Run the benchmarks (all areas, or those named: nox -s bench -- core)."""
    _install_everything(session)
    session.run("python", "bench/run.py", *session.posargs)


@nox.session(default=False)
def path(session: nox.Session) -> None:
    """One unchanged consumer on blobs in-tree, submodule, wheel and service (-- --stages 1,3)."""
    session.install(*RELEASE_TOOLS)  # tools/path releases in a throwaway clone, serves its index
    session.run("python", "-m", "tools.path", *session.posargs)


# -- release -------------------------------------------------------------------------------------
# The logic lives in tools/release (tested in tests/release); these sessions only install its
# pinned tools and call it. See shared-docs/releasing.md. .github/workflows/release.yml runs
# release-tags, release-build and release-verify when a release commit reaches main.

RELEASE_TOOLS = nox.project.dependency_groups(PYPROJECT, "release")
RELEASE_LIGHT = nox.project.dependency_groups(PYPROJECT, "release-light")


def _release_command(session: nox.Session, command: str, *, tools: bool = True) -> None:
    """Run ``python -m tools.release <command> <posargs>`` with the release tools installed."""
    session.install(*(RELEASE_TOOLS if tools else RELEASE_LIGHT))
    session.run("python", "-m", "tools.release", command, *session.posargs)


@nox.session(default=False, reuse_venv=True)
def release(session: nox.Session) -> None:
    """Release what changed and its dependents: build, check, upload, verify, tag (-- --dry-run)."""
    _release_command(session, "run")


@nox.session(name="release-tags", default=False, reuse_venv=True)
def release_tags(session: nox.Session) -> None:
    """List the release tags of the release commits in a push (-- --before A --after B)."""
    _release_command(session, "tags", tools=False)


@nox.session(name="release-build", default=False, reuse_venv=True)
def release_build(session: nox.Session) -> None:
    """Rebuild release tags exactly as verified, or fail (-- --tag trellis-core-v1.2.0)."""
    _release_command(session, "build")


@nox.session(name="release-verify", default=False, reuse_venv=True)
def release_verify(session: nox.Session) -> None:
    """Install tagged versions and smoke-test them (-- --tag T --local | --index-url U)."""
    _release_command(session, "verify")


@nox.session(name="release-serve", default=False, reuse_venv=True)
def release_serve(session: nox.Session) -> None:
    """Serve .release/index read-only on 127.0.0.1, never falling back (-- PORT, 8765)."""
    folder = ROOT / ".release" / "index"
    if not folder.is_dir():
        session.error(f"{folder} does not exist: run `nox -s release` first")
    port = session.posargs[0] if session.posargs else "8765"
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        session.error(f"the port must be a number from 1 to 65535; got {port!r}")
    session.install(*RELEASE_TOOLS)
    session.run(
        "pypi-server",
        "run",
        "--interface",
        "127.0.0.1",
        "--port",
        port,
        "--disable-fallback",
        "--authenticate",
        "update",
        "--passwords",
        os.devnull,
        str(folder),
    )


@nox.session(default=False, reuse_venv=True)
def owners(session: nox.Session) -> None:
    """List the owners to ask for review of the current change (-- --base REF, --json)."""
    _release_command(session, "owners", tools=False)


@nox.session(default=False, reuse_venv=True)
def codeowners(session: nox.Session) -> None:
    """Regenerate .github/CODEOWNERS from each pyproject's [tool.trellis] owners (-- --check)."""
    _release_command(session, "codeowners", tools=False)


@nox.session(default=False, reuse_venv=True)
def workflows(session: nox.Session) -> None:
    """Lint .github: actionlint and zizmor on the workflows, CODEOWNERS in step with owners."""
    session.install(*RELEASE_LIGHT, *nox.project.dependency_groups(PYPROJECT, "workflows"))
    session.run("actionlint", "-no-color")
    session.run("zizmor", "--offline", "--no-progress", ".github/workflows")
    session.run("python", "-m", "tools.release", "codeowners", "--check")
