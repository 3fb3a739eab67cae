"""The "raw HTTP" reference of benchmark area ``remote``: a trivial WSGI app, no Django, no Trellis.

Run under gunicorn with the settings ``trellis.remote.testing.ServiceProcess`` uses (sync
workers, access log), it does the same storage work as the blobs service's filesystem provider
with nothing around it, so ``remote`` vs this isolates the cost of Trellis + Django from the
cost of HTTP itself:

* ``POST /small`` — drains the request body, answers the 1 KiB file ``small`` (opened and read
  per request, as ``blobs_open`` does).
* ``PUT /big/<name>`` — streams the body (chunked or with ``Content-Length``; gunicorn ends
  it either way) in 1 MiB reads into a new file, ``flush`` + ``fsync`` of it and of its
  directory (the provider also fsyncs both).
* ``GET /big/<name>`` — streams the file back in 256 KiB chunks, with ``Content-Length``.

Files live in ``BENCH_RAW_DIR``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BLOCK = 256 * 1024
READ = 1024 * 1024
ROOT = Path(os.environ.get("BENCH_RAW_DIR", "."))

StartResponse = Callable[..., Any]


def _answer(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(
        status,
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(BLOCK):
            yield chunk


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "")
    body = environ["wsgi.input"]
    if path == "/small":
        while body.read(BLOCK):
            pass
        return iter(_answer(start_response, "200 OK", (ROOT / "small").read_bytes()))
    name = path.removeprefix("/big/")
    if not path.startswith("/big/") or not name.isalnum():
        return iter(_answer(start_response, "404 Not Found", b"not found"))
    target = ROOT / name
    if method == "PUT":
        written = 0
        with target.open("wb") as out:
            while chunk := body.read(READ):
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        directory = os.open(ROOT, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return iter(_answer(start_response, "200 OK", str(written).encode()))
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", str(target.stat().st_size)),
        ],
    )
    return _chunks(target)
