"""Calls the service must refuse, each with a clear JSON error, changing nothing.

Sent by hand (urllib3 and raw sockets) to services/blobs, as an attacker or a broken client
would: no signature, a tampered one, a replay, an old timestamp, an unknown hook or contract,
an incompatible contract range, mistyped arguments, a body shorter than it said.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from trellis.core import Host, set_host
from trellis.core.testing import isolated_host
from trellis.remote._auth import SCHEME, canonical, signature
from trellis.remote.testing import ServiceProcess

RANGE = ">=1.2,<2"


@pytest.fixture
def host(blobs_service: ServiceProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    """A proper client of the service, to look at what is stored."""
    for name, value in blobs_service.client_env().items():
        monkeypatch.setenv(name, value)
    built = isolated_host(discover=True, providers={"blobs": "remote"})
    set_host(built)
    yield built
    set_host(None)


def signed(
    secret: str,
    hook: str,
    args: bytes,
    *,
    contract: str = "blobs",
    wanted: str = RANGE,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or secrets.token_hex(16)
    message = canonical(
        "POST",
        f"/{contract}/{hook}",
        contract,
        wanted,
        hashlib.sha256(args).hexdigest(),
        timestamp,
        nonce,
    )
    return {
        "Authorization": f"{SCHEME} t={timestamp},n={nonce},s={signature(secret, message)}",
        "Trellis-Contract": contract,
        "Trellis-Contract-Range": wanted,
    }


def post(
    service: ServiceProcess, hook: str, headers: dict[str, str], body: Any, contract: str = "blobs"
) -> tuple[int, dict[str, Any]]:
    answer = urllib3.request(
        "POST", f"{service.remote_url}{contract}/{hook}", headers=headers, body=body, timeout=10
    )
    return answer.status, answer.json()


def write_args(key: str) -> bytes:
    return json.dumps({"key": key}, separators=(",", ":")).encode()


def upload(
    service: ServiceProcess, key: str, content: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    return post(
        service,
        "blobs_write",
        {**headers, "Trellis-Args": write_args(key).decode()},
        content,
    )


def test_a_properly_signed_call_works(blobs_service: ServiceProcess, host: Host) -> None:
    key = f"refusals/ok-{secrets.token_hex(4)}"
    headers = signed(blobs_service.secret, "blobs_write", write_args(key))
    assert upload(blobs_service, key, b"hello", headers) == (200, {"result": 5})
    assert host.call("blobs_exists", key=key) is True


def test_no_signature(blobs_service: ServiceProcess, host: Host) -> None:
    key = f"refusals/unsigned-{secrets.token_hex(4)}"
    status, body = upload(blobs_service, key, b"x", {"Trellis-Contract": "blobs"})
    assert (status, body["code"]) == (401, "not_authenticated")
    assert body["request_id"]
    assert host.call("blobs_exists", key=key) is False
    status, body = post(blobs_service, "blobs_exists", {}, b'{"key": "x"}')  # nothing at all
    assert (status, body["code"]) == (401, "not_authenticated")
    log = blobs_service.log.read_text()
    assert "refused remote call /blobs/blobs_write" in log
    assert blobs_service.secret not in log


def test_a_tampered_call_is_refused(blobs_service: ServiceProcess, host: Host) -> None:
    signed_for = f"refusals/meant-{secrets.token_hex(4)}"
    sent_to = f"refusals/tampered-{secrets.token_hex(4)}"
    headers = signed(blobs_service.secret, "blobs_write", write_args(signed_for))
    status, body = upload(blobs_service, sent_to, b"x", headers)
    assert (status, body["code"]) == (401, "bad_signature")
    wrong_secret = signed("z" * 64, "blobs_write", write_args(sent_to))
    assert upload(blobs_service, sent_to, b"x", wrong_secret)[1]["code"] == "bad_signature"
    assert host.call("blobs_exists", key=sent_to) is False
    assert host.call("blobs_exists", key=signed_for) is False


def test_a_replayed_call_is_refused(blobs_service: ServiceProcess, host: Host) -> None:
    key = f"refusals/replay-{secrets.token_hex(4)}"
    host.call("blobs_write", key=key, stream=io.BytesIO(b"keep me"))
    args = write_args(key)
    headers = signed(blobs_service.secret, "blobs_delete", args)
    assert post(blobs_service, "blobs_delete", headers, args) == (200, {"result": True})
    host.call("blobs_write", key=key, stream=io.BytesIO(b"written again"))
    for _ in range(3):  # any worker: the nonce cache is shared (the service's database)
        status, body = post(blobs_service, "blobs_delete", headers, args)
        assert (status, body["code"]) == (401, "replayed")
    with host.call("blobs_open", key=key) as stream:
        assert stream.read() == b"written again"


def test_an_old_call_is_refused(blobs_service: ServiceProcess, host: Host) -> None:
    args = write_args("refusals/old")
    headers = signed(blobs_service.secret, "blobs_exists", args, timestamp=int(time.time()) - 120)
    status, body = post(blobs_service, "blobs_exists", headers, args)
    assert (status, body["code"]) == (401, "expired")
    assert "check both clocks" in body["message"]


def test_an_unknown_hook_or_contract(blobs_service: ServiceProcess) -> None:
    args = write_args("k")
    status, body = post(
        blobs_service, "blobs_nope", signed(blobs_service.secret, "blobs_nope", args), args
    )
    assert (status, body["code"]) == (404, "unknown_hook")
    assert "blobs_nope" in body["message"]
    status, body = post(
        blobs_service, "blobs_can_read", signed(blobs_service.secret, "blobs_can_read", args), args
    )
    assert (status, body["code"]) == (404, "unknown_hook")  # an extension hook: not remotable
    status, body = post(
        blobs_service,
        "greet_hello",
        signed(blobs_service.secret, "greet_hello", args, contract="greet"),
        args,
        contract="greet",
    )
    assert (status, body["code"]) == (404, "not_serving")


def test_an_incompatible_contract_range(blobs_service: ServiceProcess) -> None:
    args = write_args("k")
    headers = signed(blobs_service.secret, "blobs_exists", args, wanted=">=2.0,<3")
    status, body = post(blobs_service, "blobs_exists", headers, args)
    assert (status, body["code"]) == (409, "incompatible_contract")
    assert "'blobs' 1.2.0" in body["message"] and ">=2.0,<3" in body["message"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (b'{"key": 7}', "argument 'key' of blobs_exists: expected str, got int"),
        (b'{"name": "k"}', "missing ['key'], unexpected ['name']"),
        (b"[1, 2", "not JSON"),
    ],
)
def test_mistyped_arguments(blobs_service: ServiceProcess, args: bytes, expected: str) -> None:
    headers = signed(blobs_service.secret, "blobs_exists", args)
    status, body = post(blobs_service, "blobs_exists", headers, args)
    assert (status, body["code"]) == (400, "bad_arguments")
    assert expected in body["message"]


def test_a_body_shorter_than_its_length_stores_nothing(
    blobs_service: ServiceProcess, host: Host
) -> None:
    key = f"refusals/short-{secrets.token_hex(4)}"
    headers = signed(blobs_service.secret, "blobs_write", write_args(key))
    headers.update({"Trellis-Args": write_args(key).decode(), "Content-Length": "100000"})
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with socket.create_connection(("127.0.0.1", blobs_service.port), timeout=10) as sock:
        sock.sendall(
            f"POST /remote/blobs/blobs_write HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode()
            + b"y" * 40_000
        )
        sock.shutdown(socket.SHUT_WR)  # the client is gone after 40 000 of 100 000 bytes
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b'"code": "body_broken"' in answer and b"40000 of its 100000 bytes" in answer
    assert host.call("blobs_exists", key=key) is False
    assert key not in {blob.key for blob in host.call("blobs_scan")}


def test_other_methods_get_json_405(blobs_service: ServiceProcess) -> None:
    answer = urllib3.request("GET", f"{blobs_service.remote_url}blobs/blobs_exists", timeout=10)
    assert answer.status == 405
    assert answer.json()["code"] == "method_not_allowed"


def test_a_replay_stays_refused_however_many_calls_came_after(
    blobs_service: ServiceProcess,
) -> None:
    """Nonces are never evicted before they expire: a cache that culls entries when full
    (Django's database cache keeps 300) would let an earlier call be replayed."""
    args = write_args("refusals/busy")
    url = f"{blobs_service.remote_url}blobs/blobs_exists"
    sent = []
    with urllib3.PoolManager() as pool:
        for _ in range(400):
            headers = signed(blobs_service.secret, "blobs_exists", args)
            assert pool.request("POST", url, headers=headers, body=args).status == 200
            sent.append(headers)
        replayed = [pool.request("POST", url, headers=h, body=args).status for h in sent[:60]]
    assert set(replayed) == {401}, f"{replayed.count(200)} of 60 earlier calls replayed"


def test_a_stream_hook_needs_its_arguments_in_the_header(
    blobs_service: ServiceProcess, host: Host
) -> None:
    key = f"refusals/no-header-{secrets.token_hex(4)}"
    args = write_args(key)
    status, body = post(
        blobs_service, "blobs_write", signed(blobs_service.secret, "blobs_write", args), args
    )
    assert (status, body["code"]) == (400, "bad_request")
    assert "Trellis-Args" in body["message"]
    assert host.call("blobs_exists", key=key) is False
