"""Running the tools a release needs (git, hatch, twine, towncrier, uv, pypi-server)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._errors import ReleaseError

_INSTALL_HINT = (
    "run the release through nox (`nox -s release`), which installs the 'release' dependency "
    "group, or install it yourself: `pip install --group release` from the repository root"
)
_TAIL = 3000
# Variables that point tools at the *calling* environment (set by nox, a venv or conda): a
# build or a verification must create and use its own environment instead.
ENVIRONMENT_TARGETS = (
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "UV_PYTHON",
    "UV_PROJECT_ENVIRONMENT",
    "UV_SYSTEM_PYTHON",
    "HATCH_ENV_ACTIVE",
    "PYTHONPATH",
    "PYTHONHOME",
)


def tool(name: str) -> list[str]:
    """The command that runs tool ``name``: the one beside this interpreter, else on ``PATH``.

    :raises ReleaseError: the tool is not installed.
    """
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    if name == "uv":
        try:
            from uv import find_uv_bin  # the uv wheel ships its binary with this locator

            return [find_uv_bin()]
        except (ImportError, FileNotFoundError):
            pass
    found = shutil.which(name)
    if found:
        return [found]
    raise ReleaseError(f"{name!r} is not installed in {sys.prefix}; {_INSTALL_HINT}")


def environ(
    *, drop_prefixes: Sequence[str] = (), overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``os.environ`` without variables starting with ``drop_prefixes``, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop_prefixes))}
    env.update(overrides or {})
    return env


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
    what: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``command``, capturing its output.

    :param what: what the command does, for the error message ("build trellis-core").
    :param check: raise on a non-zero exit status.
    :raises ReleaseError: the command failed (with the tail of its output) or timed out.
    """
    argv = [str(part) for part in command]
    try:
        result = subprocess.run(
            argv,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ReleaseError(
            f"{what or argv[0]} did not finish within {timeout:.0f} s: {' '.join(argv)}"
        ) from exc
    except FileNotFoundError as exc:
        raise ReleaseError(f"cannot run {argv[0]!r}: {exc.strerror}; {_INSTALL_HINT}") from exc
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise ReleaseError(
            f"{what or 'command'} failed with exit status {result.returncode}: {' '.join(argv)}\n"
            f"{output[-_TAIL:]}"
        )
    return result
