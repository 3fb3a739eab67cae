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


UNITS = ["", "b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib", "t", "tb", "tib"]


def _size_ok(value: str) -> bool:
    """The documented form, without regular expressions: digits, then a unit, in any case."""
    text = value.strip(" \t")
    digits = len(text) - len(text.lstrip("0123456789"))
    unit = text[digits:].lstrip(" \t")
    return digits > 0 and unit.isascii() and unit.lower() in UNITS


@given(st.text(alphabet="0123456789kKmMgGtTiIbB \t\u212a\u0130\u0131" + NOISE, max_size=12))
def test_size_settings_are_ascii_digits_and_a_known_unit(value):
    assert (_size(value) is not None) == _size_ok(value)


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(UNITS),
    st.sampled_from(["", " ", "\t"]),
)
def test_every_documented_size_parses(number, unit, space):
    scale = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}[unit[:1]]
    assert _size(f"{space}{number}{space}{unit.upper()}{space}") == number * scale


@pytest.mark.parametrize(
    "value",
    ["10MB\n", "٣MiB", "1 0MiB", "5 GiB x", "10\u212aiB", "10K\u0130B", "10k\u0131b", "5\u00a0GiB"],
)  # ... a Kelvin sign and dotted/dotless i, which case-insensitive Unicode matching equates
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


@pytest.mark.parametrize("unit", ["\u00a0bytes", "bytes\x85", "bytes\n", "\u212abytes"])
def test_only_space_and_tab_may_surround_the_unit(unit):
    assert parse_range(f"{unit}=0-99", 1000) is None


def test_optional_whitespace_rfc_9110_allows_is_tolerated():
    assert parse_range(" Bytes = 0 - 99 ", 1000) == parse_range("bytes=0-99", 1000)
    assert parse_range("bytes=\t-10\t", 1000) == parse_range("bytes=-10", 1000)
