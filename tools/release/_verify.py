"""Verification: install each released package from the index into a fresh venv, smoke-test it.

Dependency-confusion safety is proved, not assumed. Before uv runs at all, the in-repo
requirement graph of the package is walked and every in-repo sibling must have a wheel on the
release index that satisfies what requires it; otherwise verification stops, naming it (uv
would ask the public index for it, and fetching an sdist means running its code). uv never
builds anything (``--no-build``: wheels only, so no package's build code runs on the release
machine). uv resolves the package into a PEP 751 lock (``pylock.toml``) with the release index
first and the public index(es) after it (``first-index`` strategy). Before anything is
installed, every Trellis package in the lock (an in-repo name, or any ``trellis-*`` name) must
resolve to file URLs that the *release* index's own page lists for that project, with the
sha256 listed there, none redirecting to another origin; and the released package to exactly
the files built in this run. Otherwise the release stops, naming the package and where it
would have come from. The lock is then installed as is (``uv pip sync``: those URLs, those
hashes) and kept in the journal. uv runs with a cache of its own and no credentials but the
release index's; the smoke test runs with none at all.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sys
import time
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from ._errors import ReleaseError
from ._index import Index, OriginRefused, check_file_stays, file_sha256, project_files
from ._proc import environ, run, tool
from ._workspace import Project, Workspace

PYPI = "https://pypi.org/simple/"


@dataclass(frozen=True)
class Target:
    """One package to verify: the version planned and the files built for it (name → sha256)."""

    project: Project
    version: Version
    files: Mapping[str, str]


def venv_bin(venv: Path, name: str) -> Path:
    folder = "Scripts" if sys.platform == "win32" else "bin"
    return venv / folder / (f"{name}.exe" if sys.platform == "win32" else name)


# Names of variables that hold credentials: never passed to uv or to the smoke test, where a
# package's code (a .pth file runs at every interpreter start) could read them.
_CREDENTIAL_PREFIXES = ("TWINE_", "UV_INDEX_", "PIP_", "ACTIONS_ID_TOKEN_", "ACTIONS_RUNTIME_")
_CREDENTIAL_WORDS = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|_KEY$|_AUTH$")


def _is_credential(name: str) -> bool:
    upper = name.upper()
    return upper.startswith(_CREDENTIAL_PREFIXES) or bool(_CREDENTIAL_WORDS.search(upper))


def _without_credentials(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not _is_credential(k)}


def _uv_env(index: Index, cache: Path | None = None) -> dict[str, str]:
    """uv's environment: none of the caller's uv/pip settings or credentials; a cache of its own.

    The only credentials are the release index's, and only when reading it needs them: they
    belong to the index named ``release`` (``--index release=<url>``, given to both compile
    and sync), so uv sends them to that index's host only, and the lock never holds them.

    :param cache: uv's cache for this verification. Never the caller's: uv caches a file by
        URL, and the same host and port may serve another build under the same name later.
    """
    env = _without_credentials(
        environ(drop_prefixes=("UV_", "PIP_", "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH"))
    )
    if cache is not None:
        env["UV_CACHE_DIR"] = str(cache)
    if _needs_credentials(index) and index.username and index.password is not None:
        env["UV_INDEX_RELEASE_USERNAME"] = index.username
        env["UV_INDEX_RELEASE_PASSWORD"] = index.password
    return env


def _needs_credentials(index: Index) -> bool:
    return bool(index.username) and index.password is not None and not index.local


def _clean_env() -> dict[str, str]:
    """The smoke test's environment: no settings of the caller's and no credentials at all."""
    return _without_credentials(
        environ(
            drop_prefixes=(
                "TRELLIS_",
                "DJANGO_",
                "DATABASE_URL",
                "PYTHONPATH",
                "PYTHONHOME",
                "VIRTUAL_ENV",
                "PIP_",
                "UV_",
            )
        )
    )


def is_protected(name: str, workspace: Workspace) -> bool:
    """Whether ``name`` must only ever come from the release index (ours, or looks like ours)."""
    key = canonicalize_name(name)
    return key in workspace.projects or key.startswith("trellis-") or key == "trellis"


def _requirements(project: Project, extras: set[str]) -> list[Requirement]:
    """``project``'s requirements with ``extras``, markers evaluated for this interpreter."""
    meta = tomllib.loads(project.pyproject.read_text(encoding="utf-8"))["project"]
    raw = list(meta.get("dependencies", []))
    for extra, items in meta.get("optional-dependencies", {}).items():
        if canonicalize_name(extra) in extras:
            raw.extend(items)
    found = []
    for text in raw:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            found.append(requirement)
    return found


def _show(specifier: SpecifierSet) -> str:
    """``>=0.2,<1`` rather than packaging's sorted ``<1,>=0.2``."""
    parts = sorted(specifier, key=lambda s: (not s.operator.startswith((">", "=", "~")), str(s)))
    return ",".join(map(str, parts)) or "any version"


def check_siblings_on_index(target: Target, index: Index, workspace: Workspace) -> None:
    """Refuse unless every in-repo package ``target`` needs has a fitting wheel on ``index``.

    Walks the in-repo requirement graph from ``target`` (with its ``testing`` extra when it
    has a contract suite). Runs before uv, so a missing sibling is never looked up elsewhere.

    :raises ReleaseError: naming the sibling, who requires it and what the index has.
    """
    project = target.project
    first = {"testing"} if project.contract_suite and "testing" in project.extras else set()
    pending: list[tuple[NormalizedName, set[str]]] = [(canonicalize_name(project.name), first)]
    seen: set[tuple[str, frozenset[str]]] = set()
    needs: dict[NormalizedName, list[tuple[str, SpecifierSet]]] = {}
    while pending:
        name, extras = pending.pop()
        if (name, frozenset(extras)) in seen:
            continue
        seen.add((name, frozenset(extras)))
        for requirement in _requirements(workspace.projects[name], extras):
            sibling = canonicalize_name(requirement.name)
            if sibling not in workspace.projects or sibling == name:
                continue
            needs.setdefault(sibling, []).append((name, requirement.specifier))
            wanted: set[str] = {canonicalize_name(e) for e in requirement.extras}
            pending.append((sibling, wanted))
    for sibling, required in sorted(needs.items()):
        versions = set()
        for filename in project_files(index, sibling):
            try:
                versions.add(parse_wheel_filename(filename)[1])
            except InvalidWheelFilename:
                continue  # an sdist: never built during verification
        if sibling == project.name:
            continue
        for requirer, specifier in required:
            if not any(specifier.contains(v, prereleases=True) for v in versions):
                have = ", ".join(str(v) for v in sorted(versions)) or "none"
                raise ReleaseError(
                    f"dependency confusion refused: installing {project.name}=={target.version} "
                    f"needs {sibling} (required by {requirer} as {_show(specifier)}), "
                    f"but the release index {index.simple} has no wheel of it that satisfies "
                    f"that (wheels there: {have}). uv was not run, so no other index was asked "
                    f"for it: upload {sibling} there first (release it, or re-run the release "
                    "that published it)"
                )


def _refresh_trellis(workspace: Workspace, names: Sequence[str] = ()) -> list[str]:
    """``--refresh-package`` for every in-repo public project and every name in ``names``.

    A cache may outlive a release index's contents (a retry with ``--wait``, a cache kept
    across runs): uv caches pages and files by URL, and the same URL may later list or serve
    another build of a version. Trellis packages are always asked again, never taken from
    the cache; third-party files (immutable on their index) stay cached.
    """
    protected = {n for n in workspace.projects if not workspace.projects[n].private}
    return [arg for name in sorted(protected | set(names)) for arg in ("--refresh-package", name)]


def resolve(
    target: Target,
    index: Index,
    public: Sequence[str],
    workspace: Workspace,
    work: Path,
    python: Path,
    *,
    cache: Path | None = None,
) -> list[dict[str, Any]]:
    """Resolve ``target`` into ``work/pylock.toml`` and prove where each Trellis file comes from.

    :param cache: uv's cache (default: ``work/uv-cache``, this resolution's own).
    :return: one record per locked package: name, version, files (url, sha256), origin.
    :raises ReleaseError: a Trellis package would come from anywhere but the release index.
    """
    cache = cache or work / "uv-cache"
    check_siblings_on_index(target, index, workspace)
    project = target.project
    requirements = [f"{project.name}=={target.version}"]
    if project.contract_suite:
        if "testing" in project.extras:
            requirements.append(f"{project.name}[testing]=={target.version}")
        requirements.append("pytest")
    (work / "requirements.in").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    indexes = ["--index", f"release={index.simple}"]
    for url in public[:-1]:
        indexes += ["--index", url]
    indexes += ["--default-index", public[-1] if public else index.simple]
    refresh = _refresh_trellis(workspace)
    run(
        [
            *tool("uv"),
            "pip",
            "compile",
            "--quiet",
            "--no-config",
            "--no-header",
            "--format",
            "pylock.toml",
            "--output-file",
            str(work / "pylock.toml"),
            "--python",
            str(python),
            "--index-strategy",
            "first-index",
            "--no-build",
            *indexes,
            *refresh,
            str(work / "requirements.in"),
        ],
        env=_uv_env(index, cache),
        cwd=work,
        what=f"uv pip compile of {project.name}=={target.version}",
        timeout=600,
    )
    lock = tomllib.loads((work / "pylock.toml").read_text(encoding="utf-8"))
    return prove_lock(lock, target, index, workspace)


def prove_lock(
    lock: Mapping[str, Any], target: Target, index: Index, workspace: Workspace
) -> list[dict[str, Any]]:
    """Prove that every Trellis file in ``lock`` is one the release index itself lists.

    For each Trellis package (an in-repo name, or any ``trellis-*`` name), each locked file
    must be a URL the release index's own page lists for that project (read without
    following a redirect to another origin), with the sha256 listed there, and fetching it
    must not redirect to another origin. The released package must be exactly the wheels
    built in this run.

    :return: one record per locked package: name, version, files (url, sha256), origin.
    :raises ReleaseError: naming the package, the file and where it would have come from.
    """
    project = target.project
    published: dict[str, dict[str, str]] = {}
    records = []
    for package in lock.get("packages", []):
        name = canonicalize_name(package["name"])
        files = [package["sdist"]] if "sdist" in package else []
        files += package.get("wheels", [])
        entries = [
            {"url": f.get("url", ""), "sha256": f.get("hashes", {}).get("sha256", "")}
            for f in files
        ]
        origin = "public index"
        if is_protected(name, workspace):
            if name not in published:
                published[name] = {
                    _bare(entry.url): file_sha256(index, entry)
                    for entry in project_files(index, name).values()
                }
            listed = published[name]
            unlisted = [e for e in entries if _bare(e["url"]) not in listed]
            if unlisted or not entries:
                where = ", ".join(e["url"] for e in unlisted) or "no file"
                raise ReleaseError(
                    f"dependency confusion refused: installing {project.name}=={target.version} "
                    f"would take {name} {package['version']} from {where}, which the release "
                    f"index {index.simple} does not list for {name} (it lists "
                    f"{', '.join(sorted(listed)) or 'nothing'}). A Trellis package must come "
                    f"from the release index only: upload {name} {package['version']} there "
                    "first (release it, or re-run the release that published it), check who "
                    "owns that name on the public index, and that the release index does not "
                    "fall back or redirect to another index"
                )
            for entry in entries:
                if entry["sha256"] != listed[_bare(entry["url"])]:
                    raise ReleaseError(
                        f"dependency confusion refused: the lock takes {entry['url']} with "
                        f"sha256 {entry['sha256']}, but the release index {index.simple} lists "
                        f"it with sha256 {listed[_bare(entry['url'])]}; the index changed "
                        "while verifying, or answers uv differently: stop and check it"
                    )
                check_file_stays(index, name, _bare(entry["url"]))
            origin = "release index"
        if name == project.name:
            wheels = {e["sha256"] for e in entries if e["url"].endswith(".whl")}
            built = set(target.files.values())
            if Version(package["version"]) != target.version or not wheels or not wheels <= built:
                raise ReleaseError(
                    f"{index.simple} resolves {name} to {package['version']} with files "
                    f"{[e['url'] for e in entries]}, not the {target.version} built in this "
                    "run; the index serves something else under this name — stop and check it"
                )
        records.append(
            {"name": name, "version": package["version"], "origin": origin, "files": entries}
        )
    return records


def _bare(url: str) -> str:
    """``url`` without its fragment, percent-escapes decoded: how to compare file URLs."""
    return urllib.parse.unquote(urllib.parse.urldefrag(url).url)


def verify(
    target: Target,
    index: Index,
    public: Sequence[str],
    workspace: Workspace,
    state_dir: Path,
    *,
    wait_seconds: float = 0.0,
    uv_cache: Path | None = None,
) -> dict[str, Any]:
    """Install ``target`` from ``index`` into a fresh venv and smoke-test it.

    The smoke test imports the package (from the venv, not the checkout), runs
    ``trellis plugins --json`` and expects the package's plugins active at the planned
    version, and runs the package's contract suite when it declares one. It runs without
    any credentials in its environment.

    :param wait_seconds: keep retrying resolution this long while the index catches up
        (a public index can take a moment to list a fresh upload).
    :param uv_cache: uv's cache, to share between verifications (the pipeline keeps one in
        ``.release/uv-cache``); by default one of this verification's own, deleted
        afterwards. Never the caller's ``UV_CACHE_DIR``. Every Trellis package is refreshed
        from the release index on each use, so a port that later serves another build of a
        version is asked again, not answered from the cache.
    :return: the proof recorded in the journal.
    """
    project = target.project
    venv = state_dir / "venvs" / project.name
    work = state_dir / "verify" / project.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cache = uv_cache or work / "uv-cache"
    try:
        return _install_and_check(target, index, public, workspace, venv, work, cache, wait_seconds)
    finally:
        if uv_cache is None:
            shutil.rmtree(cache, ignore_errors=True)


def _install_and_check(
    target: Target,
    index: Index,
    public: Sequence[str],
    workspace: Workspace,
    venv: Path,
    work: Path,
    cache: Path,
    wait_seconds: float,
) -> dict[str, Any]:
    project = target.project
    run(
        [
            *tool("uv"),
            "venv",
            "--quiet",
            "--no-config",
            "--clear",
            "--python",
            sys.executable,
            str(venv),
        ],
        env=_uv_env(index, cache),
        what=f"uv venv for {project.name}",
        timeout=300,
    )
    python = venv_bin(venv, "python")
    resolved = _retry_while_the_index_catches_up(
        lambda: resolve(target, index, public, workspace, work, python, cache=cache),
        wait_seconds,
    )
    # The lock's file URLs carry no credentials: naming the release index gives sync the same
    # ones compile had, for that index's host only.
    credentials = ["--index", f"release={index.simple}"] if _needs_credentials(index) else []
    trellis = [r["name"] for r in resolved if str(r["name"]).startswith("trellis-")]
    run(
        [
            *tool("uv"),
            "pip",
            "sync",
            "--quiet",
            "--no-config",
            "--no-build",
            *credentials,
            *_refresh_trellis(workspace, trellis),
            "--python",
            str(python),
            str(work / "pylock.toml"),
        ],
        env=_uv_env(index, cache),
        cwd=work,
        what=f"uv pip sync of {project.name}=={target.version}",
        timeout=600,
    )
    proof: dict[str, Any] = {"resolved": resolved, "venv": str(venv)}
    proof["import"] = _check_import(project, python, venv, work)
    if project.django_settings:
        proof["plugins"] = _check_service(project, venv, work)
    else:
        proof["plugins"] = _check_plugins(project, target.version, venv, work)
    proof["contract_suite"] = _run_contract_suite(project, python, work)
    return proof


def _retry_while_the_index_catches_up(
    resolution: Callable[[], list[dict[str, Any]]], seconds: float
) -> list[dict[str, Any]]:
    """Run ``resolution`` until it succeeds or ``seconds`` have passed, 5 s between tries.

    A public index can take a moment to list a fresh upload, so a missing file may be lag.
    A redirect off the index's origin is its configuration, not lag: never retried. Nothing
    is installed before a resolution succeeds, so a retry never runs a package's code.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            return resolution()
        except OriginRefused:
            raise
        except ReleaseError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(5)


def _check_import(project: Project, python: Path, venv: Path, work: Path) -> str:
    code = (
        "import importlib, json, sys\n"
        f"module = importlib.import_module({project.import_name!r})\n"
        "where = getattr(module, '__file__', None) or list(module.__path__)[0]\n"
        "print(json.dumps(where))\n"
    )
    result = run(
        [str(python), "-I", "-c", code],
        cwd=work,
        env=_clean_env(),
        what=f"import {project.import_name} in the verification venv",
    )
    where = json.loads(result.stdout.strip().splitlines()[-1])
    if not Path(where).resolve().is_relative_to(venv.resolve()):
        raise ReleaseError(
            f"import {project.import_name} loaded {where}, outside the verification venv {venv}; "
            "the check must test the installed wheel, not a checkout"
        )
    return str(where)


def _check_plugins(
    project: Project, version: Version, venv: Path, work: Path
) -> list[dict[str, Any]]:
    trellis = venv_bin(venv, "trellis")
    if not trellis.exists():
        raise ReleaseError(
            f"the `trellis` command is missing after installing {project.name}: every released "
            "package must depend on trellis-core (which provides it)"
        )
    result = run(
        [str(trellis), "plugins", "--json"], cwd=work, env=_clean_env(), what="trellis plugins"
    )
    records = [
        r
        for r in json.loads(result.stdout)
        if r.get("distribution") and canonicalize_name(r["distribution"]) == project.name
    ]
    if not records:
        raise ReleaseError(
            f"`trellis plugins` lists no plugin of {project.name}: a Trellis package registers "
            f"its plugin in [project.entry-points.trellis] (see shared-docs/architecture.md)"
        )
    for record in records:
        if record.get("status") != "active" or record.get("version") != str(version):
            raise ReleaseError(
                f"`trellis plugins` shows plugin {record.get('name')!r} of {project.name} as "
                f"{record.get('status')} at version {record.get('version')} (reason: "
                f"{record.get('reason') or '-'}); expected active at {version}"
            )
    return [{"name": r["name"], "version": r["version"], "status": r["status"]} for r in records]


def _check_service(project: Project, venv: Path, work: Path) -> str:
    """A service composes from what it installed: ``trellis check`` with its settings passes."""
    env = {
        **_clean_env(),
        "DJANGO_SETTINGS_MODULE": str(project.django_settings),
        "TRELLIS_DATA_DIR": str(work / "service-data"),
        # Made up here and thrown away: the check needs a value, never a real secret.
        **{name: secrets.token_hex(32) for name in project.smoke_random},
    }
    run(
        [str(venv_bin(venv, "trellis")), "check"],
        cwd=work,
        env=env,
        what=f"trellis check of {project.name} with {project.django_settings}",
    )
    return f"trellis check passed with {project.django_settings}"


def _run_contract_suite(project: Project, python: Path, work: Path) -> str:
    """Run the package's contract suite with pytest against the installed wheel.

    The files are copied out of the checkout (with ``tests/conftest.py``) next to a
    ``pytest.ini`` that stops pytest from picking up the monorepo's configuration; it keeps
    the monorepo's Django test settings when Django is installed in the venv.
    """
    if not project.contract_suite:
        return "none declared"
    suite = work / "suite"
    suite.mkdir()
    conftest = project.path / "tests" / "conftest.py"
    if conftest.is_file():
        shutil.copy2(conftest, suite / "conftest.py")
    for item in project.contract_suite:
        shutil.copy2(project.path / item, suite / Path(item).name)
    (suite / "pytest.ini").write_text(_pytest_ini(project.root, python, work), encoding="utf-8")
    names = [Path(item).name for item in project.contract_suite]
    result = run(
        [str(python), "-m", "pytest", "-q", *names],
        cwd=suite,
        env=_clean_env(),
        check=False,
        timeout=900,
    )
    if result.returncode != 0:
        raise ReleaseError(
            f"the contract suite of {project.name} ({', '.join(project.contract_suite)}) failed "
            f"against the installed wheel:\n{(result.stdout + result.stderr)[-3000:]}"
        )
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "passed"


def _pytest_ini(root: Path, python: Path, work: Path) -> str:
    options = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    config = options.get("tool", {}).get("pytest", {}).get("ini_options", {})
    probe = "import importlib.util as u; print(u.find_spec('django') is not None)"
    has_django = run([str(python), "-I", "-c", probe], cwd=work, env=_clean_env()).stdout
    lines = ["[pytest]", "addopts = --import-mode=importlib -p no:cacheprovider"]
    if "True" in has_django and "DJANGO_SETTINGS_MODULE" in config:
        lines.append(f"DJANGO_SETTINGS_MODULE = {config['DJANGO_SETTINGS_MODULE']}")
        lines.append("django_find_project = false")
    else:
        lines[1] += " -p no:django"
    if config.get("markers"):
        lines.append("markers =")
        lines.extend(f"    {marker}" for marker in config["markers"])
    return "\n".join(lines) + "\n"
