"""The wire shapes derived from type hints, and the signature format."""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import BinaryIO

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis.blobs import StoredBlob, hookspecs
from trellis.core import Contract, hookspec, remotable
from trellis.remote import CannotCarry, WireError
from trellis.remote._auth import authorization, verify
from trellis.remote._wire import codec_for, remotable_shapes, shape_of

CONTRACT = Contract("shapes", "1.0.0")


def test_the_blobs_hooks_have_the_expected_shapes() -> None:
    shapes = remotable_shapes(hookspecs, hookspecs.CONTRACT)
    assert sorted(shapes) == [
        "blobs_delete",
        "blobs_exists",
        "blobs_open",
        "blobs_scan",
        "blobs_write",
    ]
    assert (shapes["blobs_write"].stream_param, shapes["blobs_write"].result) == ("stream", "json")
    assert shapes["blobs_open"].result == "stream"
    assert shapes["blobs_scan"].result == "lines"
    assert [n for n, s in shapes.items() if s.safe] == ["blobs_exists", "blobs_open", "blobs_scan"]


stored_blobs = st.builds(
    StoredBlob,
    key=st.text(),
    length=st.integers(min_value=0, max_value=2**62),
    modified=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])),
)


@given(stored_blobs)
def test_a_dataclass_with_a_datetime_round_trips(blob: StoredBlob) -> None:
    codec = codec_for(StoredBlob, "item")
    assert codec.decode(codec.encode(blob, "item"), "item") == blob


@given(st.one_of(st.integers(), st.booleans(), st.none(), st.text(), st.floats(allow_nan=False)))
def test_a_str_codec_takes_only_str(value: object) -> None:
    codec = codec_for(str, "argument 'key'")
    if isinstance(value, str):
        assert codec.decode(value, "x") == value
    else:
        with pytest.raises(WireError, match="argument 'key': expected str"):
            codec.decode(value, "argument 'key'")


def test_bool_and_int_are_not_mixed_up() -> None:
    with pytest.raises(WireError, match="expected int, got bool"):
        codec_for(int, "n").decode(True, "n")
    with pytest.raises(WireError, match="expected bool, got int"):
        codec_for(bool, "b").decode(1, "b")


def test_a_naive_datetime_is_refused_both_ways() -> None:
    codec = codec_for(datetime, "when")
    with pytest.raises(WireError):
        codec.encode(datetime(2026, 1, 1), "when")
    with pytest.raises(WireError, match="has no timezone"):
        codec.decode("2026-01-01T00:00:00", "when")


def test_a_dataclass_with_missing_or_extra_fields_is_refused() -> None:
    codec = codec_for(StoredBlob, "blob")
    with pytest.raises(WireError, match=r"missing \['modified'\], unexpected \['x'\]"):
        codec.decode({"key": "k", "length": 1, "x": 2}, "blob")


class Opaque:
    pass


@dataclass
class Holder:
    thing: Opaque


def test_types_that_cannot_cross_are_named_when_the_client_is_built() -> None:
    @remotable()
    @hookspec(firstresult=True)
    def shapes_take(thing: Opaque) -> int:
        """."""

    @remotable()
    @hookspec(firstresult=True)
    def shapes_hold(holder: Holder) -> int:
        """."""

    @remotable()
    @hookspec(firstresult=True)
    def shapes_two(a: BinaryIO, b: BinaryIO) -> int:
        """."""

    @remotable()
    @hookspec(firstresult=True)
    def shapes_bytes(data: bytes) -> Iterator[bytes]:
        """."""

    for hook, message in [
        (shapes_take, "argument 'thing' of 'shapes_take' has type"),
        (shapes_hold, "argument 'holder' of 'shapes_hold'.thing has type"),
        (shapes_two, "takes two streams"),
        (shapes_bytes, "argument 'data' of 'shapes_bytes' has type <class 'bytes'>"),
    ]:
        with pytest.raises(CannotCarry, match=message):
            shape_of(hook, CONTRACT)


def test_an_unmarked_hook_is_not_remotable() -> None:
    @hookspec(firstresult=True)
    def shapes_plain(key: str) -> int:
        """."""

    with pytest.raises(CannotCarry, match="not marked @remotable"):
        shape_of(shapes_plain, CONTRACT)


SECRET = "s" * 40
CALL = {"method": "POST", "path": "/blobs/blobs_exists", "contract": "blobs", "wanted": ">=1.2,<2"}


def _verify(header: str | None, **changes: object) -> str:
    fields: dict[str, object] = {**CALL, "args_sha256": "0" * 64, "max_skew": 30, **changes}
    return verify(header, [SECRET], **fields).code  # type: ignore[arg-type]


def test_a_signature_binds_every_field() -> None:
    header = authorization(SECRET, "POST", "/blobs/blobs_exists", "blobs", ">=1.2,<2", "0" * 64)
    assert _verify(header) == ""
    for field, value in [
        ("method", "PUT"),
        ("path", "/blobs/blobs_delete"),
        ("contract", "greet"),
        ("wanted", ">=1.0,<3"),
        ("args_sha256", "1" * 64),
    ]:
        assert _verify(header, **{field: value}) == "bad_signature", field
    assert _verify(header, now=10**10) == "expired"
    assert _verify(None) == "not_authenticated"


@given(st.text(alphabet=string.printable, max_size=200))
def test_only_an_exact_header_is_read(suffix: str) -> None:
    header = authorization(SECRET, "POST", "/blobs/blobs_exists", "blobs", ">=1.2,<2", "0" * 64)
    code = _verify(header + suffix)
    assert code == ("" if suffix == "" else "not_authenticated")
