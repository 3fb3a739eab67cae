from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType

import pytest

from trellis.remote.testing import ServiceProcess, new_secret


@pytest.fixture(scope="session")
def blobs_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """services/blobs under gunicorn (2 workers) on a loopback port, for the whole session."""
    data = Path(tmp_path_factory.mktemp("blobs-service"))
    with ServiceProcess("blobs_service", data_dir=data, secret=new_secret()) as service:
        yield service


TINY = Path(__file__).resolve().parent / "tiny"
"""The tiny ``greet`` contract, its ``local`` provider and a service that serves it."""


@pytest.fixture(scope="session")
def tiny_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The tiny ``greet`` service under gunicorn (1 worker: its nonce cache is per process)."""
    data = Path(tmp_path_factory.mktemp("tiny-service"))
    env = {"PYTHONPATH": os.pathsep.join([str(TINY), os.environ.get("PYTHONPATH", "")])}
    with ServiceProcess(
        "tiny_service", data_dir=data, secret=new_secret(), env=env, workers=1
    ) as service:
        yield service


@pytest.fixture(scope="session")
def tiny_modules() -> tuple[ModuleType, ModuleType, ModuleType]:
    """``(tiny_contract, its hookspecs, hookspecs of version 2)``, importable in this process."""
    if str(TINY) not in sys.path:
        sys.path.insert(0, str(TINY))
    return (
        importlib.import_module("tiny_contract"),
        importlib.import_module("tiny_contract.hookspecs"),
        importlib.import_module("tiny_contract.hookspecs_v2"),
    )


@pytest.fixture
def blobs_remote_to(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[type[BaseHTTPRequestHandler]], object]]:
    """``blobs_remote_to(Handler)``: a host whose blobs provider is ``remote``, pointed at a
    loopback HTTP server answering with ``Handler`` (one attempt per call, no retries)."""
    import threading
    from http.server import ThreadingHTTPServer

    from trellis.core import set_host
    from trellis.core.testing import isolated_host

    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> object:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/remote/"
        monkeypatch.setenv("TRELLIS_BLOBS_PROVIDER", "remote")
        monkeypatch.setenv("TRELLIS_REMOTE_BLOBS_URL", url)
        monkeypatch.setenv("TRELLIS_REMOTE_BLOBS_SECRET", "s" * 40)
        monkeypatch.setenv("TRELLIS_REMOTE_BLOBS_ATTEMPTS", "1")
        monkeypatch.setattr("trellis.remote._client._services", {})
        host = isolated_host(discover=True, providers={"blobs": "remote"})
        set_host(host)
        return host

    yield start
    set_host(None)
    for server in servers:
        server.shutdown()
        server.server_close()
