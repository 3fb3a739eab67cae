"""Property tests: no blobs validator accepts a string outside its documented form.

Each validator was a ``re.match`` with ``^...$``, and ``$`` accepts a trailing newline: the key
``"abc\\n"`` was stored as a file named ``abc\\n``, the content type ``"text/plain\\n"`` was
stored and its download failed.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis.blobs import InvalidKey, validate_key
from trellis.blobs._ranges import RangeNotSatisfiable, parse_range
from trellis.blobs._settings import parse_size
from trellis.blobs.services import _check_fields
from trellis.core import ConfigurationError

KEY_ALPHABET = string.ascii_letters + string.digits + "._/-"
TOKEN = "!#$%&'*+.^_`|~" + string.ascii_letters + string.digits + "-"
# Near misses: the right characters plus line breaks, spaces, NUL and non-ASCII look-alikes.
NOISE = "\n\r\t \x00é٣\uff0f"  # ... and a full-width solidus


def _key_ok(key: str) -> bool:
    return (
        0 < len(key) <= 255
        and set(key) <= set(KEY_ALPHABET)
        and not key.startswith("/")
        and all(segment not in {"", ".", ".."} for segment in key.split("/"))
    )


def _accepts_key(key: str) -> bool:
    try:
        validate_key(key)
    except InvalidKey:
        return False
    return True


@given(st.text(alphabet=KEY_ALPHABET + NOISE, max_size=40))
def test_keys_are_accepted_exactly_when_documented(key):
    assert _accepts_key(key) == _key_ok(key)


@given(st.from_regex(r"[a-z0-9]{1,8}(/[A-Za-z0-9_-]{1,8}){0,3}", fullmatch=True))
def test_every_well_formed_key_is_accepted(key):
    assert _accepts_key(key)


@pytest.mark.parametrize("key", ["abc\n", "abc\r\n", "a/b\n", "\nabc"])
def test_a_line_break_in_a_key_is_refused(key):
    assert not _accepts_key(key)


def _accepts_type(value: str) -> bool:
    try:
        _check_fields("k", domain="d", parent_id="p", type_code=1, name="", content_type=value)
    except ValueError:
        return False
    return True


MEDIA_TYPE = re.compile(rf"[{re.escape(TOKEN)}]+/[{re.escape(TOKEN)}]+( *;[ -~]*)?", flags=re.ASCII)


@given(st.text(alphabet=TOKEN + "/; =" + NOISE, max_size=30))
def test_content_types_are_accepted_exactly_when_documented(value):
    assert _accepts_type(value) == (len(value) <= 255 and bool(MEDIA_TYPE.fullmatch(value)))


@pytest.mark.parametrize("value", ["text/plain\n", "text/plain; charset=utf-8\n", "text/plain\r"])
def test_a_line_break_in_a_content_type_is_refused(value):
    assert not _accepts_type(value)


def _size(value: str) -> int | None:
    try:
        return parse_size(value, "TRELLIS_BLOBS_MAX_SIZE")
    except ConfigurationError:
        return None


@given(st.text(alphabet="0123456789kKmMgGtTiIbB \t" + NOISE, max_size=12))
def test_size_settings_are_ascii_digits_and_a_known_unit(value):
    parsed = _size(value)
    match = re.fullmatch(
        r"[ \t]*([0-9]+)[ \t]*(|b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)[ \t]*", value, re.I
    )
    assert (parsed is not None) == (match is not None)


@pytest.mark.parametrize("value", ["10MB\n", "٣MiB", "1 0MiB", "5 GiB x"])
def test_malformed_sizes_are_refused(value):
    assert _size(value) is None


@given(st.text(alphabet="0123456789- \t,=" + NOISE, max_size=16))
def test_a_range_is_honoured_only_when_well_formed(spec):
    try:
        wanted = parse_range(f"bytes={spec}", 1000)
    except RangeNotSatisfiable:
        wanted = "unsatisfiable"
    if wanted is not None:
        assert re.fullmatch(r"[ \t]*[0-9]*[ \t]*-[ \t]*[0-9]*[ \t]*", spec), spec


def test_non_ascii_digits_in_a_range_are_ignored():
    assert parse_range("bytes=٣-", 1000) is None
    assert parse_range("bytes=0-99\n", 1000) is None
