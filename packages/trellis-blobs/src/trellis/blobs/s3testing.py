"""A real S3 API server for tests: moto in server mode, in its own process, on a free port.

For anyone testing code on the ``s3`` provider
(``pip install 'trellis-blobs[s3,testing]' 'moto[server]'``)::

    from trellis.blobs.s3testing import s3_server

    @pytest.fixture(scope="module")
    def s3():
        with s3_server() as server:
            yield server

    def test_something(s3, monkeypatch):
        from trellis.core import get_host, set_host
        from trellis.core.testing import isolated_host

        for name, value in s3.env(s3.create_bucket()).items():
            monkeypatch.setenv(name, value)  # the TRELLIS_BLOBS_S3_* settings, read on use
        previous = get_host()
        set_host(isolated_host(discover=True, providers={"blobs": "s3"}))
        try:
            ...  # trellis.blobs.put(...) now talks to the server
        finally:
            set_host(previous)

The provider choice is read once per process (when the host is built), so a test selects
``s3`` with a host of its own, as above; setting ``TRELLIS_BLOBS_PROVIDER`` in a running
process changes nothing. A subprocess started with ``TRELLIS_BLOBS_PROVIDER=s3`` and these
variables in its environment uses the server too.

Caveat: moto does not serialise conditional ``CompleteMultipartUpload`` calls, so two
concurrent multipart uploads of one key with ``If-None-Match: *`` can both succeed there
(real S3 lets one win and answers the other 412). Race tests against this server keep their
content below the multipart threshold (``TRELLIS_BLOBS_S3_MULTIPART_THRESHOLD``, 8 MiB by
default), where ``PutObject`` with ``If-None-Match`` is honoured.

The server is a separate process (``python -m moto.server``), so requests go through real HTTP,
as with AWS or MinIO, and the test process shares no state with it. It starts in about half a
second and keeps content in memory; it is stopped when the ``with`` block ends.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from trellis.core.testing import stop_process

__all__ = ["S3Server", "s3_server"]

ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"  # noqa: S105 - moto accepts any credentials
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """A running moto S3 server."""

    endpoint_url: str
    pid: int

    def client(self) -> Any:
        """A boto3 S3 client for the server."""
        boto3 = importlib.import_module("boto3")
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh ``trellis-test-<hex>`` name by default); return its name."""
        bucket = name or f"trellis-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def env(self, bucket: str, *, prefix: str = "") -> dict[str, str]:
        """The ``TRELLIS_BLOBS_S3_*`` variables that point the s3 provider at ``bucket`` here."""
        env = {
            "TRELLIS_BLOBS_S3_BUCKET": bucket,
            "TRELLIS_BLOBS_S3_ENDPOINT_URL": self.endpoint_url,
            "TRELLIS_BLOBS_S3_REGION": REGION,
            "TRELLIS_BLOBS_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "TRELLIS_BLOBS_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }
        if prefix:
            env["TRELLIS_BLOBS_S3_PREFIX"] = prefix
        return env


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - http://127.0.0.1 only
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


@contextmanager
def s3_server(*, host: str = "127.0.0.1", startup_timeout: float = 30.0) -> Iterator[S3Server]:
    """Start ``python -m moto.server`` on a free port of ``host``; stop it on exit.

    :raises RuntimeError: moto is not installed, or the server did not answer in time (the
        message includes its output).
    """
    if importlib.util.find_spec("moto") is None:
        raise RuntimeError("s3_server() needs moto's server mode: pip install 'moto[server]'")
    last_error = ""
    for _attempt in range(3):  # another process may take the free port before moto binds it
        port = _free_port(host)
        with tempfile.TemporaryFile() as output:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            try:
                url = f"http://{host}:{port}"
                deadline = time.monotonic() + startup_timeout
                while proc.poll() is None and time.monotonic() < deadline:
                    if _answers(url + "/moto-api/"):
                        yield S3Server(endpoint_url=url, pid=proc.pid)
                        return
                    time.sleep(0.05)
                timed_out = proc.poll() is None
                output.seek(0)
                last_error = output.read().decode(errors="replace")[-2000:]
            finally:
                stop_process(proc)
        if timed_out:
            last_error = f"no answer within {startup_timeout:g} s; output: {last_error}"
            break
    raise RuntimeError(f"moto S3 server did not start on {host}: {last_error}")
