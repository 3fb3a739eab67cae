"""A service (or something in its place) that answers with nonsense: the client raises a
typed ``RemoteError`` naming the problem; it never returns wrong-typed data or crashes with a
bare ``ValueError``/``KeyError``."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest

from trellis.core import Host
from trellis.remote import RemoteError, RemoteUnavailable

ANSWER: dict[str, tuple[int, str, bytes]] = {}


class _Liar(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, content_type, body = ANSWER["now"]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def liar(blobs_remote_to) -> Host:
    return blobs_remote_to(_Liar)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((200, "application/json", b"<html>proxy error</html>"), "not JSON"),
        ((200, "application/json", b"[1, 2]"), "not an object"),
        ((200, "application/json", b'{"result": "yes"}'), "expected bool, got str"),
        ((200, "application/json", b'{"nothing": true}'), "expected bool, got NoneType"),
        ((500, "text/html", b"<h1>Server Error</h1>"), "failed blobs/blobs_exists"),
        ((200, "application/json", b" " * (17 * 1024 * 1024)), "longer than 16777216 bytes"),
    ],
)
def test_a_json_answer_that_makes_no_sense(liar: Host, answer, expected) -> None:
    ANSWER["now"] = answer
    with pytest.raises(RemoteError, match=expected):
        liar.call("blobs_exists", key="k")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"garbage\n", "not a line of JSON"),
        (b'["a list"]\n', "not a line of JSON"),
        (b'{"item": {"key": "k"}}\n{"end": 1}\n', "fields differ"),
        (b'{"end": 5}\n', "ended the blobs_scan listing early"),
        (b"", "ended the blobs_scan listing early"),
    ],
)
def test_a_listing_that_makes_no_sense(liar: Host, body: bytes, expected: str) -> None:
    ANSWER["now"] = (200, "application/x-ndjson", body)
    with pytest.raises(RemoteError, match=expected):
        list(liar.call("blobs_scan"))


def test_a_breaking_listing_is_unavailable_not_a_value_error(liar: Host) -> None:
    ANSWER["now"] = (200, "application/x-ndjson", b'{"item": ')
    with pytest.raises(RemoteUnavailable):
        list(liar.call("blobs_scan"))
