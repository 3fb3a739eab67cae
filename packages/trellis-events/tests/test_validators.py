"""What publish() accepts: topics, keys and payloads (Hypothesis for the validators)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis.events import (
    EventKeyError,
    EventPayloadError,
    EventsError,
    Processor,
    Topic,
    encode_payload,
    validate_key,
)
from trellis.events._types import TOPIC_PATTERN
from trellis.events._validate import KEY_PATTERN, MAX_KEY_LENGTH

KEY_CHARS = "ABCXYZabcxyz0189._:/@+=-"


@given(st.text(alphabet="Aa0", min_size=1, max_size=1), st.text(alphabet=KEY_CHARS, max_size=150))
def test_valid_keys_pass(first: str, rest: str) -> None:
    assert validate_key(first + rest) == first + rest


@given(st.text(max_size=250))
def test_keys_pass_exactly_when_they_match_the_pattern(key: str) -> None:
    valid = len(key) <= MAX_KEY_LENGTH and KEY_PATTERN.fullmatch(key) is not None
    if valid:
        assert validate_key(key) == key
    else:
        with pytest.raises(EventKeyError, match="invalid"):
            validate_key(key)


@pytest.mark.parametrize(
    "key", ["", " ", "-lead", "a b", "a\n", "é", "x" * (MAX_KEY_LENGTH + 1), "a\x00"]
)
def test_bad_keys_are_refused_with_the_value(key: str) -> None:
    with pytest.raises(EventKeyError) as info:
        validate_key(key)
    assert repr(key[:60]) in str(info.value) or "..." in str(info.value)
    assert "'order-42'" in str(info.value)


@pytest.mark.parametrize("key", [None, 42, b"bytes"])
def test_non_string_keys_are_refused(key: object) -> None:
    with pytest.raises(EventKeyError, match=type(key).__name__):
        validate_key(key)


@given(st.text(max_size=120))
def test_topic_names_are_checked_with_fullmatch(name: str) -> None:
    if len(name) <= 100 and TOPIC_PATTERN.fullmatch(name):
        assert Topic(name).name == name
    else:
        with pytest.raises(EventsError, match="topic name"):
            Topic(name)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON)
def test_plain_json_round_trips(value: object) -> None:
    import json

    assert json.loads(encode_payload(value)) == value


@pytest.mark.parametrize(
    ("payload", "path", "what"),
    [
        ({"at": datetime(2026, 1, 1)}, "$.at", "datetime"),
        ({"items": [{"price": Decimal("1.5")}]}, "$.items[0].price", "Decimal"),
        ({"tags": {"a"}}, "$.tags", "set"),
        ({"x": math.nan}, "$.x", "nan"),
        ([1, 2, math.inf], "$[2]", "inf"),
        ({"odd key": {1: "a"}}, "$['odd key']", "object key 1"),
        (object(), "$", "object"),
        ({"note": "a\ud800b"}, "$.note", "lone surrogate '\\ud800' at index 1"),
        ({"notes": {"\udc00": 1}}, "$.notes", "object key has a lone surrogate"),
    ],
)
def test_non_json_payloads_name_the_path(payload: object, path: str, what: str) -> None:
    with pytest.raises(EventPayloadError) as info:
        encode_payload(payload)
    assert info.value.path == path
    assert str(info.value).startswith(f"event payload at {path}:")
    assert what in str(info.value)


def test_deep_payload_is_refused() -> None:
    value: object = 1
    for _ in range(80):
        value = [value]
    with pytest.raises(EventPayloadError, match="nested deeper"):
        encode_payload(value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad Name"}, "processor name"),
        ({"topics": "a.b"}, "non-empty sequence"),
        ({"topics": []}, "non-empty sequence"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"max_attempts": True}, "max_attempts"),
        ({"handler": "nope"}, "not callable"),
    ],
)
def test_processor_definitions_are_checked(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"name": "p", "topics": ["a.b"], "handler": lambda events: None}
    fields.update(kwargs)
    with pytest.raises(EventsError, match=re.escape(message)):
        Processor(**fields)  # type: ignore[arg-type]
