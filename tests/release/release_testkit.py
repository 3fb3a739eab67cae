"""Helpers for the release tooling tests: throwaway git repositories shaped like this one.

Each repository holds copies of the real ``packages/trellis-core`` and ``services/hq``, the
real root ``pyproject.toml`` and ``.gitignore``, and a small leaf plugin package,
``packages/trellis-demo`` (depends on trellis-core, has a contract suite), written here.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trellis.core.testing import stop_process

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Release Test",
    "GIT_AUTHOR_EMAIL": "release-test@example.invalid",
    "GIT_COMMITTER_NAME": "Release Test",
    "GIT_COMMITTER_EMAIL": "release-test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}

DEMO_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.26"]
build-backend = "hatchling.build"

[project]
name = "trellis-demo"
dynamic = ["version"]
description = "A leaf Trellis plugin used by the release tests"
readme = "README.md"
license = "Apache-2.0"
requires-python = ">=3.11"
dependencies = [
  # the sibling this leaf builds on
  "trellis-core>=0.1,<1",
]

[project.optional-dependencies]
testing = ["trellis-core[testing]>=0.1,<1"]

[project.entry-points.trellis]
demo = "trellis.demo.plugin"

[tool.hatch.version]
path = "src/trellis/demo/_version.py"

[tool.hatch.build.targets.wheel]
packages = ["src/trellis"]

[tool.trellis]
owners = ["@trellis/demo"]
contract-suite = ["tests/test_contract.py"]
"""

DEMO_FILES = {
    "README.md": "# trellis-demo\n\nA leaf plugin for the release tests.\n",
    "CHANGELOG.md": "# Changelog — trellis-demo\n",
    "src/trellis/demo/__init__.py": (
        '"""A leaf plugin."""\n\nfrom ._version import __version__\n\n__all__ = ["__version__"]\n'
    ),
    "src/trellis/demo/_version.py": '__version__ = "0.3.0"\n',
    "src/trellis/demo/py.typed": "",
    "src/trellis/demo/plugin.py": textwrap.dedent(
        """\
        \"\"\"The demo plugin: one health check.\"\"\"

        from trellis.core import HealthCheck, HealthResult, hookimpl

        TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2"}


        @hookimpl
        def core_health_checks():
            return [HealthCheck("demo", lambda: HealthResult("ok", "fine"))]
        """
    ),
    "tests/test_contract.py": textwrap.dedent(
        """\
        from trellis.core.testing import isolated_host


        def test_demo_plugin_loads_from_the_installed_wheel():
            host = isolated_host(discover=True)
            records = {r.name: r for r in host.plugins()}
            assert records["demo"].status == "active", records["demo"].reason
        """
    ),
}


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _copy_project(folder: str, target: Path) -> None:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "--", folder],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for rel in listed:
        source = ROOT / rel
        if "/changelog.d/" in rel and source.name != ".gitkeep":
            continue  # the copy starts with no pending fragments; tests add their own
        if source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)


def write_demo(repo: Path) -> None:
    folder = repo / "packages" / "trellis-demo"
    (folder / "pyproject.toml").parent.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(DEMO_PYPROJECT, encoding="utf-8")
    for rel, text in DEMO_FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")


def fragment(repo: Path, folder: str, name: str, text: str = "A change.") -> Path:
    path = repo / folder / "changelog.d" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def commit(repo: Path, message: str = "change") -> str:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def new_repo(path: Path, *, fragments: bool = True) -> Path:
    """A fresh, committed repository at ``path`` (see the module docstring).

    With ``fragments``, each public package gets a fragment so a first release can start.
    """
    path.mkdir(parents=True)
    for rel in ("pyproject.toml", ".gitignore"):
        shutil.copy2(ROOT / rel, path / rel)
    _copy_project("packages/trellis-core", path)
    _copy_project("services/hq", path)
    write_demo(path)
    git(path, "init", "--quiet", "--initial-branch=main")
    commit(path, "initial")
    if fragments:
        fragment(path, "packages/trellis-core", "+first.feature.md", "First release.")
        fragment(path, "packages/trellis-demo", "+first.feature.md", "First release.")
        commit(path, "fragments for the first release")
    return path


def copy_repo(source: Path, target: Path) -> Path:
    """Copy a repository with its release state, minus venvs and builds (rebuilt on demand)."""
    ignore = shutil.ignore_patterns("venvs", "verify", "seed", "lock", "hatch-*")
    shutil.copytree(source, target, symlinks=True, ignore=ignore)
    return target


def fake_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    requires: tuple[str, ...] = (),
    module: str = "fake_payload",
    note: str = "",
) -> Path:
    """Write a minimal valid pure-Python wheel for ``name`` ``version`` into ``directory``."""
    import base64
    import hashlib
    import zipfile

    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{name.replace('-', '_')}-{version}"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            f"Name: {name}",
            f"Version: {version}",
            *(f"Requires-Dist: {r}" for r in requires),
            "",
            note,
        ]
    )
    files = {
        f"{module}/__init__.py": f"NOTE = {note!r}\n",
        f"{stem}.dist-info/METADATA": metadata,
        f"{stem}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{stem}.dist-info/RECORD,,")
    files[f"{stem}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@dataclass
class Released:
    """A repository after its first release (see the ``released`` fixture)."""

    repo: Path
    journal: Any
    log: list[str]


@contextmanager
def _pypiserver(directory: Path, *options: str) -> Iterator[str]:
    """pypiserver on a free loopback port serving ``directory`` with ``options``; yields its
    base URL (``http://127.0.0.1:PORT/``, the simple API under ``simple/``); log beside it."""
    from tools.release._index import _free_port, _wait_until_up
    from tools.release._proc import tool

    port = _free_port()
    log = directory.parent / f"{directory.name}.log"
    command = [
        *tool("pypi-server"),
        *("run", "--interface", "127.0.0.1", "--port", str(port)),
        *options,
        str(directory),
    ]
    with log.open("ab") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(port, process, log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_process(process)


@contextmanager
def private_index(directory: Path, username: str, password: str) -> Iterator[str]:
    """pypiserver on loopback where listing and downloading need ``username``/``password``.

    Yields its base URL (``http://127.0.0.1:PORT/``); the simple API is under ``simple/``.
    """
    digest = base64.b64encode(hashlib.sha1(password.encode(), usedforsecurity=False).digest())
    htpasswd = directory.parent / f".{directory.name}.htpasswd"
    htpasswd.write_text(f"{username}:{{SHA}}{digest.decode()}\n", encoding="utf-8")
    authenticated = ("--authenticate", "download,list,update", "--passwords", str(htpasswd))
    with _pypiserver(directory, *authenticated, "--disable-fallback") as url:
        yield url


@contextmanager
def fallback_index(directory: Path, fallback_url: str) -> Iterator[str]:
    """pypiserver on loopback that redirects a project it lacks to ``fallback_url``.

    Anonymous reads and uploads. This is the misconfiguration a release index must never
    have (pypiserver's default is to fall back to PyPI). Yields its base URL.
    """
    anonymous = ("--authenticate", ".", "--passwords", ".")
    with _pypiserver(directory, *anonymous, "--fallback-url", fallback_url) as url:
        yield url


def wheel_with_files(directory: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A pure-Python wheel of ``name`` ``version`` holding ``files`` (path → text) as given.

    A ``*.pth`` file at the top runs its ``import`` lines whenever Python starts in the
    environment it is installed into: what a look-alike package uses to run code unasked.
    """
    import zipfile

    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{name.replace('-', '_')}-{version}"
    content = dict(files)
    content[f"{stem}.dist-info/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    )
    content[f"{stem}.dist-info/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for path, text in content.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{stem}.dist-info/RECORD,,")
    content[f"{stem}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in content.items():
            archive.writestr(path, text)
    return wheel
