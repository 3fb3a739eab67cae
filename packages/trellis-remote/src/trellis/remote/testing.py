"""Run a service that serves remote calls, as a real process, for tests and benchmarks.

Needs the ``testing`` extra (gunicorn)::

    from trellis.remote.testing import ServiceProcess, new_secret

    with ServiceProcess("blobs_service", data_dir=tmp_path, secret=new_secret()) as service:
        os.environ["TRELLIS_REMOTE_BLOBS_URL"] = service.remote_url
        ...
        service.kill()      # SIGKILL, as a crash would
        service.start()     # the same port again

The service is started with ``python -m <module> migrate`` and then gunicorn on a free
loopback port, with the environment of :func:`trellis.core.testing.clean_environ` (none of
the caller's ``TRELLIS_``, ``DJANGO_``, ``DATABASE_URL`` or ``PYTHONPATH`` values); its
output goes to a log file (:attr:`ServiceProcess.log`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from trellis.core.testing import clean_environ, stop_process, tied_to_this_process

__all__ = ["ServiceProcess", "free_port", "new_secret"]


def new_secret() -> str:
    """A fresh shared secret (64 hex characters)."""
    return secrets.token_hex(32)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """A Django service (``<module>.wsgi``, ``python -m <module>``) under gunicorn.

    :param module: the service's package (``blobs_service``).
    :param data_dir: its ``TRELLIS_DATA_DIR`` (database, blob root, log).
    :param secret: its ``TRELLIS_REMOTE_SECRET``.
    :param env: more environment (``TRELLIS_BLOBS_PROVIDER=s3``...).
    :param workers: gunicorn workers.
    :param threads: threads per worker; more than 1 runs gunicorn's threaded workers, which
        keep connections alive between calls (the sync workers close each one).
    :param python: the interpreter of the environment the service is installed in.
    :param host: the address to bind (``127.0.0.1``; a network namespace's address works).
    :param prefix: a command to run gunicorn under (``["ip", "netns", "exec", "ns"]``).
    """

    def __init__(
        self,
        module: str,
        *,
        data_dir: Path,
        secret: str,
        env: Mapping[str, str] | None = None,
        workers: int = 2,
        threads: int = 1,
        python: str = sys.executable,
        host: str = "127.0.0.1",
        port: int | None = None,
        prefix: Sequence[str] = (),
        timeout: int = 60,
    ) -> None:
        self.module = module
        self.data_dir = Path(data_dir)
        self.secret = secret
        self.workers = workers
        self.threads = threads
        self.python = python
        self.host = host
        self.port = port or free_port()
        self.prefix = list(prefix)
        self.timeout = timeout
        self.log = self.data_dir / "service.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.env = clean_environ(
            {
                "TRELLIS_DATA_DIR": str(self.data_dir),
                "TRELLIS_REMOTE_SECRET": secret,
                "PYTHONUNBUFFERED": "1",
                **dict(env or {}),
            }
        )
        self._migrated = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def remote_url(self) -> str:
        """What a client's ``TRELLIS_REMOTE_<C>_URL`` is set to."""
        return f"{self.url}remote/"

    def client_env(self, contract: str = "blobs") -> dict[str, str]:
        """The settings a client of ``contract`` needs to call this service."""
        upper = contract.upper()
        return {
            f"TRELLIS_{upper}_PROVIDER": "remote",
            f"TRELLIS_REMOTE_{upper}_URL": self.remote_url,
            f"TRELLIS_REMOTE_{upper}_SECRET": self.secret,
        }

    def migrate(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [self.python, "-m", self.module, "migrate", "--no-input"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"migrate of {self.module} failed:\n{done.stdout}\n{done.stderr}")
        self._migrated = True

    def start(self, *, wait: float = 60.0) -> ServiceProcess:
        """Start gunicorn (migrating first, once) and wait until ``/health/live`` answers."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the service is already running")
        if not self._migrated:
            self.migrate()
        command = [
            *self.prefix,
            self.python,
            "-m",
            "gunicorn",
            f"{self.module}.wsgi:application",
            "--bind",
            f"{self.host}:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--timeout",
            str(self.timeout),
            "--graceful-timeout",
            "2",
            "--access-logfile",
            "-",
        ]
        if _has_control_socket(self.python):
            # newer gunicorn (27 here) binds ~/.gunicorn/gunicorn.ctl by default, unlinking
            # the socket of any other gunicorn of this user (every other ServiceProcess too).
            command.append("--no-control-socket")
        with self.log.open("ab") as log:
            command[0] = shutil.which(command[0]) or command[0]  # the launcher execs a path
            self.process = subprocess.Popen(
                tied_to_this_process(command),  # never outlives the test run
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the service exited with {self.process.returncode}:\n{self.tail()}"
                )
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{self.url}health/live", timeout=2) as answer,  # noqa: S310
            ):
                if answer.status == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the service did not answer /health/live in {wait} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL gunicorn's master and its workers, as a crash would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            children = subprocess.run(
                ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
            ).stdout.split()
            os.kill(self.process.pid, signal.SIGKILL)
            for child in children:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(child), signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None
        _wait_port_free(self.host, self.port)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s (gunicorn's workers exit with their master)."""
        if self.process is None:
            return
        stop_process(self.process)
        self.process = None

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@functools.cache
def _has_control_socket(python: str) -> bool:
    """Whether the gunicorn of ``python`` has a control socket (``--no-control-socket``)."""
    found = subprocess.run(
        [
            python,
            "-c",
            "import gunicorn.config as c; print(any("
            "s.name == 'control_socket_disable' for s in c.KNOWN_SETTINGS))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() == "True"


def _wait_port_free(host: str, port: int, wait: float = 10.0) -> None:
    """Wait until nothing accepts on ``host:port`` (killed workers can linger a moment)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) != 0:
                return
        time.sleep(0.05)
