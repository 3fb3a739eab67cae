"""Property tests: no validator of trellis-core accepts a string outside its documented form."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis.core import Contract, ContractError, HealthCheck, Link, TrellisError, UrlMount

CONTRACT_NAME = re.compile(r"[a-z][a-z0-9_]*")
SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
CHECK_NAME = re.compile(r"[a-z][a-z0-9_.-]*")
SEGMENT = re.compile(r"[a-z0-9][a-z0-9_.-]*")

# Text biased towards the near misses: the right alphabet plus newlines, spaces and capitals.
near = st.text(alphabet=string.ascii_lowercase + string.digits + "_.-/\n \tA:", max_size=20)
anything = st.one_of(near, st.text(max_size=20))


def _accepts(factory, value) -> bool:
    try:
        factory(value)
    except (TrellisError, ContractError):
        return False
    return True


@given(anything)
def test_contract_names(value):
    assert _accepts(lambda v: Contract(v, "1.0.0"), value) == bool(CONTRACT_NAME.fullmatch(value))


@given(st.one_of(st.from_regex(SEMVER, fullmatch=True), anything, st.text("0123456789.\n")))
def test_contract_versions(value):
    assert _accepts(lambda v: Contract("kv", v), value) == bool(SEMVER.fullmatch(value))


@given(anything)
def test_health_check_names(value):
    accepted = _accepts(lambda v: HealthCheck(v, lambda: None), value)
    assert accepted == bool(CHECK_NAME.fullmatch(value))


@given(
    st.one_of(
        anything,
        st.lists(st.from_regex(SEGMENT, fullmatch=True)).map(
            lambda parts: "".join(f"{p}/" for p in parts)
        ),
    )
)
def test_url_prefixes(value):
    segments = value.split("/")
    valid = value == "" or (
        value.endswith("/") and all(SEGMENT.fullmatch(s) for s in segments[:-1])
    )
    assert _accepts(lambda v: UrlMount(v, "x.urls"), value) == valid


def _safe_href(value: str) -> bool:
    """The documented rule, spelled out without the implementation's regex."""
    site_path = value.startswith("/") and not value.startswith("//")
    if not (site_path or value.startswith(("http://", "https://"))):
        return False
    return all(33 <= ord(c) <= 126 and c not in "\"'<>" for c in value)


@given(
    st.one_of(
        anything,
        st.text(alphabet=string.printable + "\"'<>é", max_size=20).map(lambda t: "/" + t),
        st.sampled_from(["javascript:alert(1)", "//evil.example", "https://x.example/a?b=1&c"]),
    )
)
def test_link_hrefs(value):
    assert _accepts(lambda v: Link("text", v), value) == _safe_href(value)


@pytest.mark.parametrize(
    ("factory", "value"),
    [
        (lambda v: Link("text", v), "/reports/\n"),
        (lambda v: Contract(v, "1.0.0"), "blobs\n"),
        (lambda v: Contract("blobs", v), "1.0.0\n"),
        (lambda v: HealthCheck(v, lambda: None), "disk\n"),
        (lambda v: UrlMount(v, "x.urls"), "blobs/\n"),
    ],
)
def test_a_trailing_newline_is_refused(factory, value):
    assert not _accepts(factory, value)
