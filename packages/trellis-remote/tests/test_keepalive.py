"""A connection goes back to the pool only when its answer was read to the very end.

A listing's ``{"end": n}`` line may arrive before the chunked body's terminator
(``0\\r\\n\\r\\n``). A client that returned the connection to the pool at the end line left the
terminator unread, and the next call on that connection read ``0`` as its status line
(``BadStatusLine('0\\r\\n')``): seen as a flaky failure of the path test's remote stage.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import pytest

from trellis.core import Host

CONNECTIONS: list[int] = []


class _SlowTerminator(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client reuses the connection

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        CONNECTIONS.append(id(self.connection))
        if self.path.endswith("/blobs_scan"):
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            line = b'{"end": 0}\n'
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()
            time.sleep(0.3)  # the end line is there; the terminator comes later
            self.wfile.write(b"0\r\n\r\n")
        else:
            body = b'{"result": false}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_terminator(blobs_remote_to) -> Host:
    return blobs_remote_to(_SlowTerminator)


def test_the_call_after_a_listing_reads_its_own_answer(slow_terminator: Host) -> None:
    CONNECTIONS.clear()
    assert list(slow_terminator.call("blobs_scan")) == []
    assert slow_terminator.call("blobs_exists", key="k") is False
    assert slow_terminator.call("blobs_exists", key="k") is False
    assert len(CONNECTIONS) == 3
    # and the connection is still reused: the listing's was drained, not thrown away
    assert len(set(CONNECTIONS)) == 1
