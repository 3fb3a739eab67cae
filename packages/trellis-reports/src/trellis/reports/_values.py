"""Reading one record: field lookup, filters, group values, exact numbers and sort keys.

Everything here is a pure function of a record, so incremental processing and a rebuild see
each record the same way. Missing values: a field that is absent (or a path through something
that is not an object) is *missing*; a group column whose value is missing, null, an object
or a list groups under ``null``; aggregates skip missing, null and (for sum, avg, min, max)
non-numeric values; ``count`` without a field counts records.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Underflow,
)
from typing import Any, Final

from ._types import Filter, Truncate

MISSING: Final = object()
"""What :func:`lookup` returns for an absent field."""

EXACT = Context(
    prec=1000, traps=[Inexact, Rounded, InvalidOperation, Overflow, Underflow, DivisionByZero]
)
"""Sums are exact: a rounding (impossible within :data:`LIMIT`) raises instead."""

LIMIT = Decimal("1e100")
"""Numbers at or beyond this magnitude are not aggregated (treated as non-numeric)."""

MAX_GROUP_TEXT = 200
"""String group values are cut to this many characters (they are indexed)."""

GroupValue = str | int | float | bool | None


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """The value at dotted ``path`` in ``record``, or :data:`MISSING`."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def number(value: Any) -> Decimal | None:
    """``value`` as an exact Decimal if it is a JSON number (not a boolean) within range.

    A float becomes the Decimal of its shortest repr (``0.1`` → ``Decimal("0.1")``), which is
    the number its JSON text said.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        result = Decimal(repr(value))
    else:
        if abs(value) >= 10**100:
            return None
        result = Decimal(value)
    return result if result.copy_abs() < LIMIT else None


def decimal_text(value: Decimal) -> str:
    """The canonical text of a Decimal: ``3`` (not ``3.0``), ``0.25``, no exponent."""
    if value == 0:
        return "0"
    if value == value.to_integral_value(context=EXACT):
        return str(int(value))
    return format(value.normalize(context=EXACT), "f")


def json_number(value: Decimal) -> int | float:
    """A Decimal for JSON: an int when integral, else the nearest float."""
    if value == value.to_integral_value(context=EXACT):
        return int(value)
    return float(value)


def identity(value: Any) -> str:
    """A canonical text for equality and distinct counting: ``3`` and ``3.0`` are the same
    number; ``true`` is not ``1``; ``"3"`` (a string) is not ``3``."""
    if value is None or value is MISSING:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        as_number = number(value)
        return f"n:{decimal_text(as_number)}" if as_number is not None else f"f:{value!r}"
    if isinstance(value, str):
        return f"s:{value}"
    return "j:" + json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _compare(value: Any, op: str, target: Any) -> bool:
    if isinstance(target, str):
        if not isinstance(value, str):
            return False
        left: Any = value
        right: Any = target
    else:
        left, right = number(value), number(target)
        if left is None or right is None:
            return False
    if op == "lt":
        return bool(left < right)
    if op == "lte":
        return bool(left <= right)
    if op == "gt":
        return bool(left > right)
    return bool(left >= right)


def matches(record: Mapping[str, Any], filters: Sequence[Filter]) -> bool:
    """Whether ``record`` passes every filter.

    ``eq``/``ne``/``in`` compare by :func:`identity` (a missing field equals ``null``);
    ``lt``..``gte`` compare numbers with numbers and strings with strings (ISO dates sort as
    text), anything else fails; ``exists`` is true for a present, non-null value.
    """
    for f in filters:
        value = lookup(record, f.field)
        if f.op == "exists":
            present = value is not MISSING and value is not None
            if present != bool(f.value):
                return False
        elif f.op == "eq":
            if identity(value) != identity(f.value):
                return False
        elif f.op == "ne":
            if identity(value) == identity(f.value):
                return False
        elif f.op == "in":
            if identity(value) not in {identity(v) for v in f.value}:
                return False
        elif value is MISSING or not _compare(value, f.op, f.value):
            return False
    return True


def parse_day(value: Any) -> date | None:
    """The UTC calendar day of an ISO 8601 date or date-time string (naive ones are UTC)."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def truncate(value: Any, unit: Truncate) -> str | None:
    """``YYYY-MM-DD`` of the day, the ISO week's Monday, or the month's first day; ``None``
    for a value that is not an ISO date or date-time string."""
    day = parse_day(value)
    if day is None:
        return None
    if unit == "week":
        day -= timedelta(days=day.weekday())
    elif unit == "month":
        day = day.replace(day=1)
    return day.isoformat()


def group_value(value: Any, unit: Truncate | None) -> GroupValue:
    """The value a record groups under for one group column (see the module docstring)."""
    if unit is not None:
        return truncate(value, unit)
    if value is MISSING or value is None or isinstance(value, bool):
        return value if isinstance(value, bool) else None
    if isinstance(value, int | float):
        as_number = number(value)
        return None if as_number is None else json_number(as_number)
    if isinstance(value, str):
        return value.replace("\x00", "")[:MAX_GROUP_TEXT]
    return None


def group_text(value: GroupValue) -> str | None:
    """A group value as text: what API filters match and CSV cells show."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        as_number = number(value)
        return decimal_text(as_number) if as_number is not None else repr(value)
    return value


def group_hash(values: Sequence[GroupValue]) -> str:
    """The sha256 hex digest identifying a group (its values' identities, in order)."""
    text = json.dumps([identity(v) for v in values], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def value_hash(identity_text: str) -> str:
    """The sha256 hex digest of a value's :func:`identity` (distinct-value rows)."""
    return hashlib.sha256(identity_text.encode()).hexdigest()


def _number_sort(value: Decimal) -> bytes:
    if value == 0:
        return b"\x01"
    sign, digits, _ = value.normalize(context=EXACT).as_tuple()
    exponent = value.adjusted() + 1000
    text = "".join(map(str, digits)).rstrip("0") or "0"
    if sign:  # negative: larger magnitudes sort first
        flipped = "".join(str(9 - int(d)) for d in text)
        return b"\x00" + f"{9999 - exponent:04d}".encode() + flipped.encode() + b"\xff"
    return b"\x02" + f"{exponent:04d}".encode() + text.encode() + b"\x00"


def sort_key(values: Sequence[GroupValue]) -> bytes:
    """Bytes that order groups naturally, column by column: booleans, then numbers by value,
    then strings (by code point), then ``null`` last."""
    parts = []
    for value in values:
        if value is None:
            parts.append(b"\x04")
        elif isinstance(value, bool):
            parts.append(b"\x01" + (b"1" if value else b"0"))
        elif isinstance(value, int | float):
            as_number = number(value)
            parts.append(b"\x02" + _number_sort(as_number if as_number is not None else Decimal(0)))
        else:
            parts.append(b"\x03" + value.encode("utf-8", "replace") + b"\x00")
    return b"".join(parts)
