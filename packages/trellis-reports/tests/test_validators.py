"""Identifiers are checked with re.fullmatch (Hypothesis), values read as documented."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trellis.reports import DefinitionError, validate_definition
from trellis.reports._definitions import ALIAS_PATTERN, FIELD_PATTERN, RESERVED_ALIASES
from trellis.reports._values import (
    MISSING,
    group_value,
    identity,
    lookup,
    number,
    sort_key,
    truncate,
)

from .conftest import TOPIC, VISITS


def with_alias(alias: str) -> dict[str, Any]:
    definition = copy.deepcopy(VISITS)
    definition["aggregates"][0]["as"] = alias
    del definition["chart"]
    return definition


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="abz09_A-. é\n", max_size=70))
def test_aliases_pass_exactly_when_they_fullmatch(alias: str) -> None:
    valid = (
        len(alias) <= 63
        and ALIAS_PATTERN.fullmatch(alias) is not None
        and alias not in RESERVED_ALIASES
        and alias not in {"village", "week", "avg_size"}
    )
    if valid:
        assert validate_definition(with_alias(alias), topics={TOPIC}).aliases[2] == alias
    else:
        with pytest.raises(DefinitionError, match=r"aggregates\[0\]\.as"):
            validate_definition(with_alias(alias), topics={TOPIC})


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="ab_.09Z-", max_size=30))
def test_field_paths_pass_exactly_when_they_fullmatch(path: str) -> None:
    definition = copy.deepcopy(VISITS)
    definition["aggregates"][1]["field"] = path
    if FIELD_PATTERN.fullmatch(path):
        validate_definition(definition, topics={TOPIC})
    else:
        with pytest.raises(DefinitionError, match=r"aggregates\[1\]\.field: .* is not a field"):
            validate_definition(definition, topics={TOPIC})


def test_a_trailing_newline_is_not_an_alias() -> None:
    with pytest.raises(DefinitionError):
        validate_definition(with_alias("visits\n"), topics={TOPIC})


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("2026-01-07T23:59:59.999999Z", "day", "2026-01-07"),
        ("2026-01-07T23:30:00-02:00", "day", "2026-01-08"),  # UTC
        ("2026-01-07T10:00:00.000000Z", "week", "2026-01-05"),  # ISO week: Monday
        ("2026-01-04T10:00:00Z", "week", "2025-12-29"),  # a Sunday belongs to the week before
        ("2026-02-28", "month", "2026-02-01"),
        ("not a date", "day", None),
        (20260107, "day", None),
    ],
)
def test_truncation(value: Any, unit: Any, expected: str | None) -> None:
    assert truncate(value, unit) == expected


def test_numbers_are_exact_and_booleans_are_not_numbers() -> None:
    assert number(0.1) == Decimal("0.1")
    assert number(3) == Decimal(3)
    assert number(True) is None
    assert number("3") is None
    assert number(1e200) is None, "out of range: not aggregated"
    assert identity(3) == identity(3.0)
    assert identity(True) != identity(1)
    assert identity("3") != identity(3)


def test_missing_values_group_under_null() -> None:
    record = {"data": {"village": "north", "nested": {"a": 1}}}
    assert lookup(record, "data.village") == "north"
    assert lookup(record, "data.village.name") is MISSING
    assert group_value(lookup(record, "data.nope"), None) is None
    assert group_value(lookup(record, "data.nested"), None) is None
    assert group_value(2.0, None) == 2
    assert group_value("x" * 300, None) == "x" * 200


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(-(10**6), 10**6), st.decimals(-1000, 1000, places=3)), min_size=2
    )
)
def test_sort_keys_order_numbers_by_value(values: list[Any]) -> None:
    floats = [float(v) for v in values]
    by_key = sorted(floats, key=lambda v: sort_key([v]))
    assert by_key == sorted(floats)


def test_sort_keys_put_null_last_and_compare_column_by_column() -> None:
    rows = [["b", 2], [None, 1], ["a", 10], ["a", 9], [True, 0]]
    assert sorted(rows, key=sort_key) == [[True, 0], ["a", 9], ["a", 10], ["b", 2], [None, 1]]


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.sampled_from(
        ["form.submitted", "count", "avg", "week", "eq", "in", "data.x", "bar", "village"]
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "source_topic",
                    "filters",
                    "group_by",
                    "aggregates",
                    "chart",
                    "field",
                    "as",
                    "op",
                    "value",
                    "fn",
                    "truncate",
                    "type",
                    "x",
                    "y",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


DEFINITIONS = st.dictionaries(
    st.sampled_from(["source_topic", "filters", "group_by", "aggregates", "chart"]),
    JSON,
    max_size=5,
)


@settings(max_examples=50, deadline=None)
@given(JSON | DEFINITIONS)
def test_any_json_either_validates_or_raises_definition_error(value: Any) -> None:
    try:
        validate_definition(value, topics={TOPIC})
    except DefinitionError as exc:
        found = exc.problems
    else:
        return
    assert found, "at least one problem, each with a path"
