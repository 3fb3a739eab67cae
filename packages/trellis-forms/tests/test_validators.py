"""The identifier patterns, checked with ``fullmatch`` (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trellis import forms
from trellis.forms import _ids

SETTINGS = settings(max_examples=40, deadline=None)
KINDS = {
    "domain": _ids.DOMAIN,
    "form": _ids.NAME,
    "case_type": _ids.NAME,
    "submission_id": _ids.RECORD_ID,
    "case_id": _ids.RECORD_ID,
    "attachment": _ids.ATTACHMENT,
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@SETTINGS
@given(data=st.data())
def test_everything_the_pattern_generates_is_valid(kind: str, data: st.DataObject) -> None:
    value = data.draw(st.from_regex(KINDS[kind], fullmatch=True))
    assert forms.is_valid(kind, value)
    assert _ids.check(kind, value) == value


@pytest.mark.parametrize("kind", sorted(KINDS))
@SETTINGS
@given(data=st.data())
def test_a_trailing_newline_or_a_path_character_is_refused(kind: str, data: st.DataObject) -> None:
    value = data.draw(st.from_regex(KINDS[kind], fullmatch=True))
    for bad in (value + "\n", value + "/x", "../" + value, value + "\\", value + " ", ""):
        assert not forms.is_valid(kind, bad), bad
    with pytest.raises(forms.InvalidIdentifier, match=kind):
        _ids.check(kind, value + "/")


@SETTINGS
@given(st.text(max_size=120))
def test_any_text_is_valid_only_if_it_fullmatches(text: str) -> None:
    for kind, pattern in KINDS.items():
        assert forms.is_valid(kind, text) == bool(pattern.fullmatch(text))
        if forms.is_valid(kind, text):
            assert text.isascii() and "/" not in text and "\n" not in text


@pytest.mark.parametrize(
    ("kind", "value", "valid"),
    [
        ("domain", "a", True),
        ("domain", "a" * 63, True),
        ("domain", "a" * 64, False),
        ("domain", "-demo", False),
        ("domain", "demo-", False),
        ("domain", "Demo", False),
        ("form", "household_visit", True),
        ("form", "1form", False),
        ("form", "f" * 64, False),
        ("submission_id", "uuid:6f1c-2b", True),
        ("submission_id", "x" * 100, True),
        ("submission_id", "x" * 101, False),
        ("submission_id", ":x", False),
        ("attachment", "photo.jpg", True),
        ("attachment", "..", False),
        ("attachment", "a:b", False),
        ("domain", 42, False),
    ],
)
def test_edges(kind: str, value: object, valid: bool) -> None:
    assert forms.is_valid(kind, value) is valid
