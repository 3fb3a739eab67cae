"""A second, tiny contract (``greet``) served and called exactly like blobs.

Proves the remoting is generic: JSON arguments and results of several types, a dataclass with
a datetime, a streamed argument (with and without a known length), a streamed listing, typed
errors, an unexpected failure, an incompatible contract and the health check.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from types import ModuleType

import pytest

from trellis.blobs.testing import PatternStream
from trellis.core import Host, UnknownProvider, set_host
from trellis.core._context import current_request_id
from trellis.core.testing import isolated_host
from trellis.remote import (
    IncompatibleContract,
    RemoteError,
    RemoteUnavailable,
    WireError,
    client_provider,
)
from trellis.remote.testing import ServiceProcess

MiB = 1024 * 1024


@pytest.fixture
def greet(
    tiny_service: ServiceProcess,
    tiny_modules: tuple[ModuleType, ModuleType, ModuleType],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Host]:
    """A host whose ``greet`` provider is ``remote``, calling the tiny service."""
    for name, value in tiny_service.client_env("greet").items():
        monkeypatch.setenv(name, value)
    host = isolated_host(client_provider(tiny_modules[1]), providers={"greet": "remote"})
    set_host(host)
    yield host
    set_host(None)


def test_json_arguments_and_result_cross(greet: Host) -> None:
    assert greet.call("greet_hello", name="ada", times=2, loud=False) == ["hello, ada"] * 2
    assert greet.call("greet_hello", name="ada", times=1, loud=True) == ["HELLO, ADA"]
    assert greet.call("greet_echo", payload=None) is None
    assert greet.call("greet_echo", payload={"a": [1, 2], "b": []}) == {"a": [1, 2], "b": []}


def test_a_typed_error_is_raised_again_as_itself(
    greet: Host, tiny_modules: tuple[ModuleType, ModuleType, ModuleType]
) -> None:
    with pytest.raises(tiny_modules[0].GreetRefused, match="will not greet 'nobody'"):
        greet.call("greet_hello", name="nobody", times=1, loud=False)


@pytest.mark.parametrize("seekable", [True, False], ids=["content-length", "chunked"])
def test_a_streamed_argument_and_a_dataclass_result(greet: Host, seekable: bool) -> None:
    size = 3 * MiB + 7
    stream = io.BytesIO(b"x" * size) if seekable else PatternStream(size, max_read=70_000)
    receipt = greet.call("greet_upload", label="photo", stream=stream)
    assert (receipt.label, receipt.length, receipt.tags, receipt.note) == (
        "photo",
        size,
        ("a", "b"),
        None,
    )
    assert receipt.received.tzinfo is not None


def test_a_listing_streams_and_ends_with_the_error_that_stopped_it(
    greet: Host, tiny_modules: tuple[ModuleType, ModuleType, ModuleType]
) -> None:
    numbers = greet.call("greet_numbers", upto=5000)
    assert not isinstance(numbers, list)  # a lazy iterator, not a list built whole
    assert list(numbers) == list(range(5000))
    seen: list[int] = []
    with pytest.raises(tiny_modules[0].GreetRefused, match="unlucky"):
        seen.extend(greet.call("greet_numbers", upto=13))
    assert seen == list(range(12))


def test_an_unexpected_failure_is_a_remote_error_without_its_internals(
    greet: Host, tiny_service: ServiceProcess
) -> None:
    token = current_request_id.set("follow-me-0001")
    try:
        with pytest.raises(RemoteError) as caught:
            greet.call("greet_boom")
    finally:
        current_request_id.reset(token)
    error = caught.value
    assert not isinstance(error, RemoteUnavailable)
    assert error.request_id == "follow-me-0001"
    assert error.service == "tiny"
    assert "secret internals" not in str(error)
    assert "follow-me-0001" in str(error)
    log = tiny_service.log.read_text()
    assert "follow-me-0001" in log and "secret internals" in log  # the service logged it


def test_the_request_id_and_traceparent_are_logged_by_the_service(
    greet: Host, tiny_service: ServiceProcess
) -> None:
    token = current_request_id.set("upload-trace-42")
    try:
        greet.call("greet_hello", name="ada", times=1, loud=False)
    finally:
        current_request_id.reset(token)
    lines = [
        line for line in tiny_service.log.read_text().splitlines() if "upload-trace-42" in line
    ]
    assert any("served remote greet/greet_hello -> 200" in line for line in lines), lines
    assert any("traceparent" not in line and "00-" in line for line in lines), lines


def test_arguments_of_the_wrong_type_are_refused_before_any_call(greet: Host) -> None:
    with pytest.raises(WireError, match="argument 'times' of greet_hello: expected int, got bool"):
        greet.call("greet_hello", name="ada", times=True, loud=False)
    with pytest.raises(WireError, match="argument 'name'"):
        greet.call("greet_hello", name=b"ada", times=1, loud=False)


def test_an_incompatible_contract_quarantines_the_client(
    tiny_service: ServiceProcess,
    tiny_modules: tuple[ModuleType, ModuleType, ModuleType],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in tiny_service.client_env("greet").items():
        monkeypatch.setenv(name, value)
    host = isolated_host(client_provider(tiny_modules[2]), providers={"greet": "remote"})
    set_host(host)
    try:
        with pytest.raises(IncompatibleContract, match=r"runs contract 'greet' 1\.3\.0"):
            host.call("greet_hello", name="ada", times=1, loud=False)
        record = next(r for r in host.plugins() if r.provides.get("greet") == "remote")
        assert record.status == "quarantined"
        assert ">=2.0,<3" in record.reason
        with pytest.raises(UnknownProvider, match="quarantined"):
            host.call("greet_hello", name="ada", times=1, loud=False)
    finally:
        set_host(None)


def test_the_health_check_names_the_service_and_its_version(greet: Host) -> None:
    checks = {c.name: c for group in greet.collect("core_health_checks") for c in group}
    result = checks["remote.greet"].check()
    assert result is not None
    assert result.status == "ok", result.message
    assert "'tiny'" in result.message and "1.3.0" in result.message
    assert result.details["circuit"] == "closed"
