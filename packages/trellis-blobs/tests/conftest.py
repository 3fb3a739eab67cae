from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from trellis import blobs
from trellis.blobs.s3testing import S3Server, s3_server


@pytest.fixture(autouse=True)
def blob_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test stores content under its own directory, with the default settings."""
    root = tmp_path / "blobs"
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(root))
    monkeypatch.delenv("TRELLIS_BLOBS_MAX_SIZE", raising=False)
    return root


@pytest.fixture
def stored_files(blob_root: Path) -> Callable[[], list[str]]:
    """Every file under the blob root (content and temporary files alike), relative paths."""

    def files() -> list[str]:
        if not blob_root.exists():
            return []
        return sorted(
            os.path.relpath(os.path.join(d, f), blob_root)
            for d, _, names in os.walk(blob_root)
            for f in names
        )

    return files


@pytest.fixture
def put() -> Callable[..., blobs.BlobInfo]:
    """``blobs.put`` with owner fields filled in: ``put(b"...", key="k")``."""

    def store(content: object = b"content", **kwargs: object) -> blobs.BlobInfo:
        fields: dict[str, object] = {"domain": "demo", "parent_id": "form-1", "type_code": 1}
        fields.update(kwargs)
        return blobs.put(content, **fields)  # type: ignore[arg-type]

    return store


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    """A real S3 API server (moto's server mode) on loopback, one per test module."""
    with s3_server() as running:
        yield running


@pytest.fixture(scope="module")
def bucket(server: S3Server) -> str:
    """A fresh bucket on the module's S3 server."""
    return server.create_bucket()


SECRET = "testing-secret-value"
"""The secret access key of the s3 fixtures below: no message may contain it (moto takes any)."""


@contextmanager
def s3_selected(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[None]:
    """Select the s3 provider process-wide with the ``TRELLIS_BLOBS_S3_*`` variables ``env``."""
    from trellis.blobs import s3
    from trellis.core import get_host, set_host
    from trellis.core.testing import isolated_host

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRELLIS_BLOBS_S3_SECRET_ACCESS_KEY", SECRET)
    previous = get_host()
    set_host(isolated_host(discover=True, providers={"blobs": "s3"}))
    s3.clear_clients()
    try:
        yield
    finally:
        set_host(previous)
        s3.clear_clients()


def endpoint_env(port: int, bucket: str, **settings: str) -> dict[str, str]:
    """``TRELLIS_BLOBS_S3_*`` for a loopback endpoint on ``port`` (plus ``settings``)."""
    env = {
        "TRELLIS_BLOBS_S3_BUCKET": bucket,
        "TRELLIS_BLOBS_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "TRELLIS_BLOBS_S3_REGION": "us-east-1",
        "TRELLIS_BLOBS_S3_ACCESS_KEY_ID": "testing-key-id",
    }
    env.update({f"TRELLIS_BLOBS_S3_{name.upper()}": value for name, value in settings.items()})
    return env


@contextmanager
def loopback_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP server on a free loopback port that calls ``handle(connection)`` for each
    connection, one at a time, in a thread; yields the port. Stopped on exit."""
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)  # so the accepting thread sees `stop` soon
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            handle(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.fixture
def unreachable_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Select the s3 provider process-wide, pointed at a loopback port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with s3_selected(monkeypatch, endpoint_env(port, "trellis-unreachable")):
        yield


@pytest.fixture
def hanging_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[socket.socket]]:
    """Select the s3 provider at a server that accepts connections and never answers.

    Read timeout 0.5 s and 2 attempts, so a request gives up within about a second. The
    value lists the connections the server accepted (each attempt is one).
    """
    accepted: list[socket.socket] = []
    try:
        with loopback_server(accepted.append) as port:  # kept open, never answered
            env = endpoint_env(port, "trellis-hanging", read_timeout="0.5", max_attempts="2")
            with s3_selected(monkeypatch, env):
                yield accepted
    finally:
        for connection in accepted:
            connection.close()


def _cut_short(connection: socket.socket) -> None:
    """Answer ``HEAD`` with 200; then promise 1 MiB, send 100 bytes and close."""
    with connection:
        connection.settimeout(5)
        while True:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                request += chunk
            if not request.startswith(b"HEAD"):
                break
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        connection.sendall(
            b'HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\nETag: "e"\r\n\r\n' + b"x" * 100
        )


@pytest.fixture
def cutting_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Select the s3 provider at a server that cuts every object body short.

    It answers the bucket check (``HEAD``) with 200, and every other request with a
    ``Content-Length`` of 1 MiB, 100 bytes of body, and a closed connection.
    """
    with (
        loopback_server(_cut_short) as port,
        s3_selected(monkeypatch, endpoint_env(port, "trellis-cut-short", max_attempts="1")),
    ):
        yield


@pytest.fixture
def stoppable_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Select the s3 provider on a moto server of the test's own; call the value to stop it.

    Blobs stored before the stop have metadata in SQL and content on a server that is gone:
    an S3 endpoint going down under a running service.
    """
    with ExitStack() as running:
        server = running.enter_context(s3_server())
        with s3_selected(monkeypatch, server.env(server.create_bucket())):
            yield running.close
