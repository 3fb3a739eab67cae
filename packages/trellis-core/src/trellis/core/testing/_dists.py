"""Throwaway plugin distributions and virtual environments, for testing installed plugins.

A plugin's entry point, distribution metadata and import only meet when the plugin is really
installed. These helpers write a tiny hatchling project, install it into a fresh virtual
environment and run ``trellis`` there, all in a few seconds::

    python = make_overlay_venv(tmp_path / "venv")
    project = write_plugin_project(
        tmp_path / "myplugin", "my-plugin", PLUGIN_SOURCE, {"myplugin": "my_plugin"}
    )
    pip_install(python, project)
    result = run_trellis(python, "check")
    assert result.returncode == 0, result.stdout

The *overlay* venv has no packages of its own: a ``.pth`` file makes the packages of the
environment running the tests (trellis-core, hatchling, Django, ...) importable in it, so
nothing is downloaded or copied, and what gets installed into it is removed with the directory.
Building needs ``hatchling`` and ``pip`` in the running environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "CommandError",
    "build_wheel",
    "clean_environ",
    "make_overlay_venv",
    "pip_install",
    "pip_uninstall",
    "run_trellis",
    "venv_python",
    "venv_site_packages",
    "write_plugin_project",
]

_DIST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_ISOLATING_PREFIXES = ("TRELLIS_", "DJANGO_")
_ISOLATING_NAMES = frozenset(
    {
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "VIRTUAL_ENV",
        "DATABASE_URL",
        "__PYVENV_LAUNCHER__",
    }
)
_PIP_TIMEOUT = 300.0
_RUN_TIMEOUT = 120.0


class CommandError(subprocess.CalledProcessError):
    """A helper's command failed; unlike its base class, the message includes the output."""

    def __str__(self) -> str:
        command = " ".join(map(str, self.cmd)) if isinstance(self.cmd, list | tuple) else self.cmd
        parts = [f"command exited with status {self.returncode}: {command}"]
        for label, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            if text:
                parts.append(f"--- {label} ---\n{str(text).rstrip()}")
        return "\n".join(parts)


def write_plugin_project(
    path: Path,
    dist: str,
    module_source: str,
    entry_points: Mapping[str, str],
    *,
    module: str | None = None,
    version: str = "1.0.0",
    files: Mapping[str, str] | None = None,
    dependencies: Sequence[str] = (),
) -> Path:
    """Write a minimal hatchling project for a plugin distribution to ``path``.

    :param path: project directory to create (must not exist or be empty).
    :param dist: distribution name, e.g. ``"acme-trellis-blobs"``.
    :param module_source: source of the plugin module (dedented before writing).
    :param entry_points: entry-point name → dotted module path, for group ``trellis``.
    :param module: dotted name of the plugin module; default ``dist`` with ``-``/``.`` turned
        into ``_``. ``pkg`` is written to ``pkg/__init__.py``, ``pkg.sub`` to ``pkg/sub.py``
        (missing ``__init__.py`` files are created empty).
    :param version: the distribution's version.
    :param files: more files, by path relative to the project root (e.g.
        ``{"pkg/urls.py": "..."}``); sources are dedented. Every file must be inside the
        top-level package of ``module``, which is the only package the wheel ships.
    :param dependencies: ``Requires-Dist`` entries (not installed by :func:`pip_install`).
    :return: ``path``, ready for :func:`pip_install` or :func:`build_wheel`.
    :raises ValueError: a name is not a valid distribution or module name, or a file lies
        outside the package.
    """
    if not _DIST_NAME.fullmatch(dist):
        raise ValueError(f"{dist!r} is not a valid distribution name")
    module = module or re.sub(r"[-.]+", "_", dist).lower()
    if not _MODULE_NAME.fullmatch(module):
        raise ValueError(f"{module!r} is not a valid dotted module name")
    for name, target in entry_points.items():
        if (
            not name
            or "=" in name
            or "\n" in name
            or not _MODULE_NAME.fullmatch(target.split(":")[0])
        ):
            raise ValueError(f"entry point {name!r} = {target!r} is not valid")
    top = module.split(".")[0]
    parts = module.split(".")
    if len(parts) == 1:
        module_file = Path(top, "__init__.py")
    else:
        module_file = Path(*parts[:-1], f"{parts[-1]}.py")

    sources: dict[Path, str] = {module_file: module_source}
    for relative, source in (files or {}).items():
        rel = Path(relative)
        if rel.is_absolute() or ".." in rel.parts or rel.parts[0] != top:
            raise ValueError(f"file {relative!r} must lie inside package {top!r}")
        sources[rel] = source
    for rel in list(sources):
        for depth in range(1, len(rel.parts)):
            init = Path(*rel.parts[:depth], "__init__.py")
            sources.setdefault(init, "")

    path.mkdir(parents=True, exist_ok=True)
    if any(path.iterdir()):
        raise ValueError(f"{path} is not empty")
    for rel, source in sources.items():
        file = path / rel
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(textwrap.dedent(source), encoding="utf-8")

    lines = [
        "[build-system]",
        'requires = ["hatchling"]',
        'build-backend = "hatchling.build"',
        "",
        "[project]",
        f"name = {_toml_string(dist)}",
        f"version = {_toml_string(version)}",
        'requires-python = ">=3.11"',
        f"dependencies = [{', '.join(_toml_string(d) for d in dependencies)}]",
        "",
        "[project.entry-points.trellis]",
        *(f"{_toml_string(n)} = {_toml_string(t)}" for n, t in entry_points.items()),
        "",
        "[tool.hatch.build.targets.wheel]",
        f"packages = [{_toml_string(top)}]",
        "",
    ]
    (path / "pyproject.toml").write_text("\n".join(lines), encoding="utf-8")
    return path


def venv_python(venv: Path) -> Path:
    """The interpreter of the virtual environment at ``venv``."""
    if sys.platform == "win32":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def venv_site_packages(venv: Path) -> Path:
    """The ``site-packages`` directory of the virtual environment at ``venv``.

    Computed for the running interpreter's version, which :func:`make_overlay_venv` uses.
    """
    base = {"base": str(venv), "platbase": str(venv)}
    return Path(sysconfig.get_paths(scheme="venv", vars=base)["purelib"])


def make_overlay_venv(path: Path) -> Path:
    """Create a virtual environment at ``path`` that sees the running environment's packages.

    The venv is made without pip (fast: no ``ensurepip``); a ``.pth`` file in its
    ``site-packages`` adds the running interpreter's ``purelib``/``platlib`` directories with
    :func:`site.addsitedir`, so their own ``.pth`` files (editable installs) work too. Packages
    installed into the venv come first on ``sys.path`` and its entry points are found by
    :mod:`importlib.metadata` along with the running environment's.

    Install into it with :func:`pip_install`, which runs the running environment's pip.
    Do not install a distribution that the running environment also has: pip would see that
    one and uninstall it there.

    :return: the venv's interpreter.
    :raises CommandError: ``venv`` failed.
    """
    _run([sys.executable, "-m", "venv", "--without-pip", str(path)], timeout=_RUN_TIMEOUT)
    python = venv_python(path)
    site_packages = venv_site_packages(path)
    if not site_packages.is_dir():  # pragma: no cover - layout of an unusual platform
        site_packages = Path(
            _run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                timeout=_RUN_TIMEOUT,
            ).stdout.strip()
        )
    paths = sysconfig.get_paths()
    parents = list(dict.fromkeys([paths["purelib"], paths["platlib"]]))
    lines = [f"import site; site.addsitedir({parent!r})" for parent in parents]
    (site_packages / "_trellis_overlay.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return python


def pip_install(python: Path, *paths: Path | str, args: Sequence[str] = ()) -> str:
    """Install project directories or wheels into the environment of ``python``.

    Runs the running environment's pip with ``--python``, ``--no-deps``,
    ``--no-build-isolation`` (so the build backend comes from the running environment) and
    ``--no-index``: nothing is downloaded. All paths are installed in one pip run.

    :param args: extra pip arguments.
    :return: pip's output.
    :raises CommandError: pip failed; the message includes its output.
    """
    command = [
        *_pip(python),
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        *args,
        *map(str, paths),
    ]
    return _run(command, timeout=_PIP_TIMEOUT).stdout


def pip_uninstall(python: Path, *dists: str) -> str:
    """Uninstall distributions from the environment of ``python`` (running pip with ``--python``).

    :return: pip's output.
    :raises CommandError: pip failed; the message includes its output.
    """
    return _run([*_pip(python), "uninstall", "--yes", *dists], timeout=_PIP_TIMEOUT).stdout


def build_wheel(project: Path, dest: Path) -> Path:
    """Build the wheel of the project at ``project`` into ``dest`` with the running pip.

    No dependencies are built or downloaded and the build backend comes from the running
    environment (``--no-build-isolation``).

    :return: the wheel file.
    :raises CommandError: the build failed; the message includes pip's output.
    """
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.whl"))
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--no-input",
            "--wheel-dir",
            str(dest),
            str(project),
        ],
        timeout=_PIP_TIMEOUT,
    )
    built = sorted(set(dest.glob("*.whl")) - before) or sorted(dest.glob("*.whl"))
    if len(built) != 1:
        raise RuntimeError(f"expected one wheel for {project} in {dest}; found {built}")
    return built[0]


def clean_environ(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``os.environ`` without settings that would leak into a subprocess under test.

    Drops ``TRELLIS_*`` and ``DJANGO_*`` variables, ``DATABASE_URL``, ``PYTHONPATH``,
    ``PYTHONHOME``, ``PYTHONSTARTUP`` and ``VIRTUAL_ENV``; then applies ``overrides``.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _ISOLATING_NAMES and not key.startswith(_ISOLATING_PREFIXES)
    }
    env.update(overrides or {})
    return env


def run_trellis(
    python: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = _RUN_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m trellis.core *args`` and return the finished process (never raises on exit).

    :param env: variables set on top of :func:`clean_environ` (e.g. ``TRELLIS_STRICT``).
    :param cwd: working directory; default the venv's directory next to ``python`` (not the
        caller's, so nothing in it is importable by accident).
    """
    return subprocess.run(
        [str(python), "-m", "trellis.core", *args],
        env=clean_environ(env),
        cwd=cwd or python.parent.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _pip(python: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "--disable-pip-version-check",
        "--no-input",
    ]


def _run(command: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=clean_environ(),
    )
    if result.returncode != 0:
        raise CommandError(result.returncode, command, result.stdout, result.stderr)
    return result


def _toml_string(value: str) -> str:
    # A JSON string without control characters is a valid TOML basic string.
    if any(ord(c) < 0x20 for c in value):
        raise ValueError(f"{value!r} contains control characters")
    return json.dumps(value)
