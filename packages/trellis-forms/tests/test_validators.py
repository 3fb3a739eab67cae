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


def _generated(kind: str) -> st.SearchStrategy[str]:
    """What the pattern matches (attachment names: the printable ones, as is_valid also asks)."""
    found = st.from_regex(KINDS[kind], fullmatch=True)
    return found.filter(str.isprintable) if kind == "attachment" else found


@pytest.mark.parametrize("kind", sorted(KINDS))
@SETTINGS
@given(data=st.data())
def test_everything_the_pattern_generates_is_valid(kind: str, data: st.DataObject) -> None:
    value = data.draw(_generated(kind))
    assert forms.is_valid(kind, value)
    assert _ids.check(kind, value) == value


@pytest.mark.parametrize("kind", sorted(KINDS))
@SETTINGS
@given(data=st.data())
def test_a_trailing_newline_or_a_path_character_is_refused(kind: str, data: st.DataObject) -> None:
    value = data.draw(_generated(kind))
    for bad in (value + "\n", value + "/x", "../" + value, value + "\\", value + " ", ""):
        assert not forms.is_valid(kind, bad), bad
    with pytest.raises(forms.InvalidIdentifier, match=kind):
        _ids.check(kind, value + "/")


@SETTINGS
@given(st.text(max_size=120))
def test_any_text_is_valid_only_if_it_fullmatches(text: str) -> None:
    for kind, pattern in KINDS.items():
        printable = kind != "attachment" or text.isprintable()
        assert forms.is_valid(kind, text) == bool(pattern.fullmatch(text) and printable)
        if forms.is_valid(kind, text):
            assert "/" not in text and "\\" not in text and "\n" not in text
            assert text.isascii() or kind == "attachment"


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
        # Enketo keeps the picked file's own name, adding "-H_M_S" before the extension.
        ("attachment", "IMG 2024 (1)-10_20_30.jpg", True),
        ("attachment", "façade-9_5_1.jpg", True),
        ("attachment", "x" * 100, True),
        ("attachment", "x" * 101, False),
        ("attachment", " leading-space.jpg", False),
        ("attachment", ".hidden", False),
        ("attachment", "a/b.jpg", False),
        ("attachment", "a\\b.jpg", False),
        ("attachment", "tab\there.jpg", False),
        ("attachment", "line\n", False),
        ("attachment", "lone\ud800.jpg", False),
        ("domain", 42, False),
    ],
)
def test_edges(kind: str, value: object, valid: bool) -> None:
    assert forms.is_valid(kind, value) is valid
