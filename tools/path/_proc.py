"""Running commands for the path: clean environments, captured output, errors people can act on.

Every process the session starts gets an environment made from the caller's minus anything
that would let the caller's set-up leak in: no ``TRELLIS_*``/``DJANGO_*`` settings, no
``DATABASE_URL``, no pip/uv/twine configuration or credentials, no ``PYTHONPATH`` or active
venv. Each stage then adds exactly what it means to set.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ._errors import PathError

_TAIL = 3000
# Settings of the caller that must not reach a stage: the consumer learns its stage from the
# environment the session gives it, and from nothing else.
_DROPPED_PREFIXES = (
    "TRELLIS_",
    "DJANGO_",
    "DATABASE_URL",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "PIP_",
    "UV_",
    "TWINE_",
    "PYTEST_",
    "GIT_",
    "HATCH_",
)
# Credentials by name, whatever their prefix (as tools/release/_verify.py decides).
_CREDENTIAL_PREFIXES = ("ACTIONS_ID_TOKEN_", "ACTIONS_RUNTIME_")
_CREDENTIAL_WORDS = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|_KEY$|_AUTH$")

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Trellis path",
    "GIT_AUTHOR_EMAIL": "trellis-path@example.invalid",
    "GIT_COMMITTER_NAME": "Trellis path",
    "GIT_COMMITTER_EMAIL": "trellis-path@example.invalid",
}
"""The identity of the commits and tags the session makes in its throwaway repositories."""

Logger = Callable[[str], None]


def is_dropped(name: str) -> bool:
    """Whether the caller's variable ``name`` stays out of every process the session starts."""
    upper = name.upper()
    if upper.startswith(_DROPPED_PREFIXES) or upper.startswith(_CREDENTIAL_PREFIXES):
        return True
    return bool(_CREDENTIAL_WORDS.search(upper))


def clean_env(
    overrides: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The caller's environment without its settings and credentials, plus ``overrides``.

    :param base: the environment to start from (default: ``os.environ``).
    """
    source = os.environ if base is None else base
    env = {name: value for name, value in source.items() if not is_dropped(name)}
    env.update(overrides or {})
    return env


def tool(name: str) -> str:
    """The executable ``name``: beside this interpreter (the nox session's venv), else on PATH.

    :raises PathError: it is not installed.
    """
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise PathError(
        f"{name!r} is not installed beside {sys.executable} nor on PATH: run the path through "
        "nox (`nox -s path`), which installs the release tools, or `pip install --group "
        "release` from the repository root"
    )


def show(command: Sequence[str | Path]) -> str:
    """``command`` as a shell would take it (for the log and error messages)."""
    return shlex.join(str(part) for part in command)


def run(
    command: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = 900.0,
    what: str,
    check: bool = True,
    log: Logger | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command``, capturing its output; log it first when ``log`` is given.

    :param what: what the command does, for the error ("install trellis-blobs in stage 3").
    :param check: raise on a non-zero exit status.
    :raises PathError: it failed (with the tail of its output), timed out or cannot start.
    """
    argv = [str(part) for part in command]
    if log is not None:
        log(f"$ {show(argv)}" + (f"    (in {cwd})" if cwd else ""))
    try:
        result = subprocess.run(
            argv,
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PathError(f"{what} did not finish within {timeout:.0f} s: {show(argv)}") from exc
    except FileNotFoundError as exc:
        raise PathError(f"{what}: cannot run {argv[0]!r}: {exc.strerror}") from exc
    if check and result.returncode != 0:
        raise PathError(
            f"{what} failed with exit status {result.returncode}: {show(argv)}\n"
            f"{tail(result.stdout + result.stderr)}"
        )
    return result


def tail(text: str, size: int = _TAIL) -> str:
    """The last ``size`` characters of ``text``, stripped (what an error message shows)."""
    text = text.strip()
    return text if len(text) <= size else "..." + text[-size:]


def stop(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; safe on an exited process."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
