"""Stage 4's server: ``services/blobs`` (``blobs_service``) under gunicorn, on loopback.

It runs from its own venv, with its own data dir and a random shared secret, and never
outlives the session: it is stopped with SIGTERM (then SIGKILL) when the stage ends, and on
Linux it is started with a parent-death signal, so a session killed with SIGKILL takes it
along.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools.release import tied_to_this_process

from ._errors import PathError
from ._proc import Logger, clean_env, run, show, stop, tail

START_SECONDS = 60.0


@dataclass(frozen=True)
class Service:
    """A running blobs service: what the consumer needs to reach it."""

    url: str
    """The remote API's base URL, ``http://127.0.0.1:<port>/remote/``."""
    secret: str
    started_seconds: float
    """From ``migrate`` to the first 200 of ``/health/live``."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def blobs_service(venv: Path, data: Path, *, log: Logger, commands: list[str]) -> Iterator[Service]:
    """Migrate and start the blobs service from ``venv``; yield it; stop it.

    :param commands: every command run is appended here, as a shell would take it.
    :raises PathError: migrate failed, or the service did not answer ``GET /health/live``
        with 200 within :data:`START_SECONDS` (the message shows its log's tail).
    """
    data.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    # DJANGO_SETTINGS_MODULE and every other caller setting stay out (clean_env drops them).
    env = clean_env({"TRELLIS_DATA_DIR": str(data), "TRELLIS_REMOTE_SECRET": secret})
    started = time.monotonic()
    migrate = [str(venv / "bin" / "python"), "-m", "blobs_service", "migrate", "--no-input"]
    commands.append(show(migrate))
    run(migrate, env=env, cwd=data, what="migrate of the blobs service", log=log, timeout=300)
    gunicorn = venv / "bin" / "gunicorn"
    if not gunicorn.exists():
        raise PathError(
            f"{gunicorn} does not exist: trellis-blobs-service must depend on gunicorn (the "
            "path starts it as `gunicorn blobs_service.wsgi:application`)"
        )
    port = free_port()
    command = [
        str(gunicorn),
        "blobs_service.wsgi:application",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        "2",
        "--threads",
        "4",
        "--timeout",
        "60",
    ]
    commands.append(show(command))
    log(f"$ {show(command)}    (in {data})")
    service_log = data.parent / "service.log"
    with service_log.open("ab") as sink:
        process = subprocess.Popen(
            tied_to_this_process(command),
            cwd=data,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_live(port, process, service_log)
        yield Service(f"http://127.0.0.1:{port}/remote/", secret, time.monotonic() - started)
    finally:
        stop(process)


def _wait_until_live(port: int, process: subprocess.Popen[bytes], service_log: Path) -> None:
    url = f"http://127.0.0.1:{port}/health/live"
    deadline = time.monotonic() + START_SECONDS
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PathError(
                f"the blobs service exited with status {process.returncode} at start-up; the "
                f"tail of {service_log}:\n{_log_tail(service_log)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise PathError(
        f"the blobs service did not answer GET {url} with 200 within {START_SECONDS:.0f} s "
        f"(last: {last}); the tail of {service_log}:\n{_log_tail(service_log)}"
    )


def _log_tail(path: Path) -> str:
    try:
        return tail(path.read_text(encoding="utf-8", errors="replace"), 2000)
    except OSError as exc:
        return f"(cannot read it: {exc})"
