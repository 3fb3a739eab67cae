"""Aggregate state: what a record adds to its group, and how states merge and read out.

Each group keeps, per aggregate column, a small exact state (stored as JSON on its row):

- ``count``: ``{"n": records}`` (with a field: records whose value is present and not null);
- ``sum`` and ``avg``: ``{"sum": "<exact decimal>", "n": numeric values}``;
- ``min`` and ``max``: ``{"v": "<exact decimal>" | null}``;
- ``count_distinct``: ``{"n": distinct values}``; the values themselves, with how many
  records had each, are rows of their own (``ReportDistinct``), so a new value is known as new.

Merging is addition (and min/max), which is associative and commutative: the same records in
any order, in any batches, give the same state; that is why a rebuild equals incremental work.

Each counted record's contribution is also kept on its ``AppliedRecord`` mark (its group key
and :func:`stored_parts`), so a newer revision of the record can take it back exactly:
:func:`combine` subtracts it (count, sum, avg; distinct values by their record counts) and
names the min/max columns whose extreme it may have held, to be recomputed from the group's
other marks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from ._types import Definition
from ._values import (
    EXACT,
    MISSING,
    GroupValue,
    decimal_text,
    identity,
    lookup,
    matches,
    number,
    value_hash,
)
from ._values import group_value as _group_value

AVG_PLACES = Decimal("0.000001")
"""``avg`` is read out rounded half-even to 6 decimal places (the stored sum and n are exact)."""

State = dict[str, dict[str, Any]]


@dataclass
class Contribution:
    """What one record adds: its group's values and its per-column parts (``distinct``: the
    sha256 of the value's identity, as ``ReportDistinct`` keeps it)."""

    group: tuple[GroupValue, ...]
    numbers: dict[str, Decimal | None] = field(default_factory=dict)
    counted: dict[str, bool] = field(default_factory=dict)
    distinct: dict[str, str | None] = field(default_factory=dict)


def contribution(definition: Definition, record: Mapping[str, Any]) -> Contribution | None:
    """What ``record`` adds to the report, or ``None`` when the filters leave it out."""
    if not matches(record, definition.filters):
        return None
    group = tuple(_group_value(lookup(record, g.field), g.truncate) for g in definition.group_by)
    found = Contribution(group)
    for a in definition.aggregates:
        value = lookup(record, a.field) if a.field else True
        present = value is not None and value is not MISSING
        if a.fn == "count":
            found.counted[a.alias] = a.field is None or present
        elif a.fn == "count_distinct":
            found.distinct[a.alias] = value_hash(identity(value)) if present else None
        else:
            found.numbers[a.alias] = number(value) if present else None
    return found


def stored_parts(definition: Definition, part: Contribution) -> dict[str, Any]:
    """``part``'s per-column parts as JSON, by alias: ``count`` a boolean, ``count_distinct``
    the value's hash, the others the exact decimal text (``null``: no value)."""
    stored: dict[str, Any] = {}
    for a in definition.aggregates:
        if a.fn == "count":
            stored[a.alias] = part.counted[a.alias]
        elif a.fn == "count_distinct":
            stored[a.alias] = part.distinct[a.alias]
        else:
            value = part.numbers[a.alias]
            stored[a.alias] = None if value is None else decimal_text(value)
    return stored


def from_parts(definition: Definition, stored: Any) -> Contribution | None:
    """The contribution :func:`stored_parts` wrote (without its group values), or ``None``
    when ``stored`` does not fit ``definition`` (not written for it)."""
    if not isinstance(stored, dict):
        return None
    part = Contribution(())
    try:
        for a in definition.aggregates:
            value = stored[a.alias]
            if a.fn == "count":
                part.counted[a.alias] = bool(value)
            elif a.fn == "count_distinct":
                part.distinct[a.alias] = value if isinstance(value, str) else None
            else:
                part.numbers[a.alias] = None if value is None else Decimal(value)
    except (KeyError, TypeError, ArithmeticError, ValueError):
        return None
    return part


@dataclass
class GroupState:
    """One group's aggregate state while records are added (in memory)."""

    group: tuple[GroupValue, ...]
    records: int = 0
    state: State = field(default_factory=dict)
    values: dict[str, Counter[str]] = field(default_factory=dict)
    """Per ``count_distinct`` alias: value hash → records with it."""

    def add(self, definition: Definition, part: Contribution) -> None:
        """Add one record's contribution."""
        self.records += 1
        for a in definition.aggregates:
            slot = self.state.setdefault(a.alias, empty(a.fn))
            if a.fn == "count":
                slot["n"] += 1 if part.counted[a.alias] else 0
            elif a.fn == "count_distinct":
                seen = part.distinct[a.alias]
                if seen is not None:
                    self.values.setdefault(a.alias, Counter())[seen] += 1
            else:
                add_number(a.fn, slot, part.numbers[a.alias])


def empty(fn: str) -> dict[str, Any]:
    """The state of an aggregate over no records."""
    if fn in ("sum", "avg"):
        return {"sum": "0", "n": 0}
    if fn in ("min", "max"):
        return {"v": None}
    return {"n": 0}


def add_number(fn: str, slot: dict[str, Any], value: Decimal | None) -> None:
    """Fold one number (``None``: skipped) into a sum/avg/min/max state."""
    if value is None:
        return
    if fn in ("sum", "avg"):
        slot["sum"] = decimal_text(EXACT.add(Decimal(slot["sum"]), value))
        slot["n"] += 1
        return
    current = slot["v"]
    if current is None:
        slot["v"] = decimal_text(value)
    else:
        chosen = min(Decimal(current), value) if fn == "min" else max(Decimal(current), value)
        slot["v"] = decimal_text(chosen)


def merge(
    definition: Definition, old: State, new: State, distinct_added: Mapping[str, int]
) -> State:
    """``old`` with ``new`` (a batch's state) added; ``distinct_added``: alias → how many
    values the batch saw first."""
    merged: State = {}
    for a in definition.aggregates:
        left = dict(old.get(a.alias) or empty(a.fn))
        right = new.get(a.alias) or empty(a.fn)
        if a.fn == "count":
            left["n"] = int(left["n"]) + int(right["n"])
        elif a.fn == "count_distinct":
            left["n"] = int(left["n"]) + distinct_added.get(a.alias, 0)
        elif a.fn in ("sum", "avg"):
            left["sum"] = decimal_text(EXACT.add(Decimal(left["sum"]), Decimal(right["sum"])))
            left["n"] = int(left["n"]) + int(right["n"])
        elif right["v"] is not None:
            add_number(a.fn, left, Decimal(right["v"]))
        merged[a.alias] = left
    return merged


def combine(
    definition: Definition,
    old: State,
    added: State,
    removed: State,
    distinct_delta: Mapping[str, int],
) -> tuple[State, list[str]]:
    """``old`` with ``added`` added and ``removed`` (retracted records) taken away; and the
    min/max aliases whose current extreme a removed record may have held, which the caller
    recomputes (their state here keeps the old extreme)."""
    merged: State = {}
    recompute: list[str] = []
    for a in definition.aggregates:
        left = dict(old.get(a.alias) or empty(a.fn))
        plus = added.get(a.alias) or empty(a.fn)
        minus = removed.get(a.alias) or empty(a.fn)
        if a.fn == "count":
            left["n"] = int(left["n"]) + int(plus["n"]) - int(minus["n"])
        elif a.fn == "count_distinct":
            left["n"] = int(left["n"]) + distinct_delta.get(a.alias, 0)
        elif a.fn in ("sum", "avg"):
            total = EXACT.add(Decimal(left["sum"]), Decimal(plus["sum"]))
            left["sum"] = decimal_text(EXACT.subtract(total, Decimal(minus["sum"])))
            left["n"] = int(left["n"]) + int(plus["n"]) - int(minus["n"])
        elif (
            minus["v"] is not None
            and left["v"] is not None
            and Decimal(minus["v"]) == Decimal(left["v"])
        ):
            recompute.append(a.alias)
        elif plus["v"] is not None:
            add_number(a.fn, left, Decimal(plus["v"]))
        merged[a.alias] = left
    return merged, recompute


def result(fn: str, slot: Mapping[str, Any] | None) -> Decimal | int | None:
    """The value an aggregate state reads out as (``None``: no values to aggregate)."""
    slot = slot or empty(fn)
    if fn in ("count", "count_distinct"):
        return int(slot["n"])
    if fn == "sum":
        return Decimal(slot["sum"]) if slot["n"] else None
    if fn == "avg":
        return mean(Decimal(slot["sum"]), int(slot["n"])) if slot["n"] else None
    return Decimal(slot["v"]) if slot["v"] is not None else None


def mean(total: Decimal, n: int) -> Decimal:
    """``total / n`` rounded half-even to 6 decimal places, the same wherever computed."""
    context = Context(prec=max(60, len(total.as_tuple().digits) + 40))
    return context.divide(total, Decimal(n)).quantize(
        AVG_PLACES, rounding=ROUND_HALF_EVEN, context=context
    )
