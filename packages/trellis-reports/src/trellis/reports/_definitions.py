"""Validating report definitions: every fault found, each named by its path.

A definition is plain JSON (what the admin edits and the database stores)::

    {"source_topic": "form.submitted",
     "filters": [{"field": "form", "op": "eq", "value": "household_visit"}],
     "group_by": [{"field": "data.village", "as": "village"},
                  {"field": "received_at", "truncate": "week", "as": "week"}],
     "aggregates": [{"fn": "count", "as": "visits"},
                    {"fn": "avg", "field": "data.household_size", "as": "avg_size"}],
     "chart": {"type": "bar", "x": "village", "y": "visits"}}

Errors read ``group_by[1].truncate: 'fortnight' is not one of day, week, month``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from typing import Any, cast

from ._errors import DefinitionError, Problem
from ._types import (
    Aggregate,
    AggregateFn,
    Chart,
    ChartType,
    Definition,
    Filter,
    FilterOp,
    GroupBy,
    Truncate,
)

DOMAIN_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
SLUG_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}", re.ASCII)
ALIAS_PATTERN = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
FIELD_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII)
MAX_ALIAS_LENGTH = 63
MAX_FIELD_LENGTH = 200
MAX_FILTERS = 20
MAX_GROUP_BY = 4
MAX_AGGREGATES = 20
MAX_IN_VALUES = 100
RESERVED_ALIASES = frozenset({"format", "limit", "offset"})
"""Query parameters of the API: a group column of these names could not be filtered on."""

OPS: tuple[FilterOp, ...] = ("eq", "ne", "in", "lt", "lte", "gt", "gte", "exists")
TRUNCATES: tuple[Truncate, ...] = ("day", "week", "month")
FNS: tuple[AggregateFn, ...] = ("count", "sum", "min", "max", "avg", "count_distinct")
CHART_TYPES: tuple[ChartType, ...] = ("bar", "line")
TOP_KEYS = ("source_topic", "filters", "group_by", "aggregates", "chart")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _one_of(value: object, allowed: Collection[str]) -> str:
    return f"{value!r} is not one of {', '.join(allowed)}"


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def keys(
        self, value: object, path: str, required: Collection[str], allowed: Collection[str]
    ) -> bool:
        if not isinstance(value, Mapping):
            self.add(path, f"must be an object with keys {', '.join(allowed)}, got {value!r:.80}")
            return False
        for key in value:
            if key not in allowed:
                self.add(_join(path, str(key)), f"unknown key; allowed keys: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.add(_join(path, key), "is required")
        return True

    def field(self, value: object, path: str) -> str | None:
        if (
            not isinstance(value, str)
            or len(value) > MAX_FIELD_LENGTH
            or not FIELD_PATTERN.fullmatch(value)
        ):
            self.add(
                path,
                f"{value!r:.80} is not a field path: use dotted identifiers such as "
                "'data.household_size' (letters, digits and '_', not starting with a digit)",
            )
            return None
        return value

    def alias(self, value: object, path: str, seen: dict[str, str]) -> str | None:
        if (
            not isinstance(value, str)
            or len(value) > MAX_ALIAS_LENGTH
            or not ALIAS_PATTERN.fullmatch(value)
        ):
            self.add(
                path,
                f"{value!r:.80} is not a column name: use lower-case letters, digits and '_', "
                f"starting with a letter, at most {MAX_ALIAS_LENGTH} characters",
            )
            return None
        if value in RESERVED_ALIASES:
            self.add(path, f"{value!r} is reserved (an API query parameter); choose another")
            return None
        if value in seen:
            self.add(path, f"{value!r} is already the name of {seen[value]}; names must be unique")
            return None
        seen[value] = path
        return value

    def items(self, value: object, path: str, most: int, least: int = 0) -> list[Any]:
        if not isinstance(value, list):
            self.add(path, f"must be a list, got {value!r:.80}")
            return []
        if len(value) > most:
            self.add(path, f"has {len(value)} entries; at most {most} are allowed")
        if len(value) < least:
            self.add(path, f"needs at least {least} entr{'y' if least == 1 else 'ies'}")
        return value


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _unstorable(value: object) -> str | None:
    """Why a filter value cannot be stored as JSON (in PostgreSQL too), or ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} is not a JSON number; use a finite number"
    if isinstance(value, str) and "\x00" in value:
        return "must not contain NUL characters"
    return None


def _filter(check: _Checker, raw: object, path: str) -> Filter | None:
    if not check.keys(raw, path, ("field", "op"), ("field", "op", "value")):
        return None
    raw = cast(Mapping[str, Any], raw)
    field = check.field(raw.get("field"), f"{path}.field")
    op = raw.get("op")
    if op not in OPS:
        if "op" in raw:
            check.add(f"{path}.op", _one_of(op, OPS))
        return None
    value = raw.get("value", True if op == "exists" else None)
    if "value" not in raw and op != "exists":
        check.add(f"{path}.value", f"is required for op {op!r}")
        return None
    if op == "exists":
        if not isinstance(value, bool):
            check.add(f"{path}.value", f"must be true or false for op 'exists', got {value!r:.80}")
            return None
    elif op == "in":
        if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
            check.add(
                f"{path}.value",
                f"must be a list of 1 to {MAX_IN_VALUES} values for op 'in', got {value!r:.80}",
            )
            return None
        for index, item in enumerate(value):
            if not _scalar(item):
                check.add(f"{path}.value[{index}]", "must be a string, number, boolean or null")
                return None
            fault = _unstorable(item)
            if fault:
                check.add(f"{path}.value[{index}]", fault)
                return None
    elif op in ("lt", "lte", "gt", "gte"):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            check.add(f"{path}.value", f"must be a number or a string for op {op!r}")
            return None
    elif not _scalar(value):
        check.add(f"{path}.value", f"must be a string, number, boolean or null for op {op!r}")
        return None
    fault = _unstorable(value)
    if fault:
        check.add(f"{path}.value", fault)
        return None
    if field is None:
        return None
    return Filter(field, cast(FilterOp, op), value)


def _group(check: _Checker, raw: object, path: str, seen: dict[str, str]) -> GroupBy | None:
    if not check.keys(raw, path, ("field", "as"), ("field", "as", "truncate")):
        return None
    raw = cast(Mapping[str, Any], raw)
    field = check.field(raw.get("field"), f"{path}.field")
    alias = check.alias(raw.get("as"), f"{path}.as", seen) if "as" in raw else None
    truncate = raw.get("truncate")
    if truncate is not None and truncate not in TRUNCATES:
        check.add(f"{path}.truncate", _one_of(truncate, TRUNCATES))
        return None
    if field is None or alias is None:
        return None
    return GroupBy(field, alias, cast(Truncate | None, truncate))


def _aggregate(check: _Checker, raw: object, path: str, seen: dict[str, str]) -> Aggregate | None:
    if not check.keys(raw, path, ("fn", "as"), ("fn", "field", "as")):
        return None
    raw = cast(Mapping[str, Any], raw)
    fn = raw.get("fn")
    if fn not in FNS:
        if "fn" in raw:
            check.add(f"{path}.fn", _one_of(fn, FNS))
        fn = None
    field = None
    if "field" in raw:
        field = check.field(raw["field"], f"{path}.field")
    elif fn not in (None, "count"):
        check.add(f"{path}.field", f"is required for fn {fn!r}")
    alias = check.alias(raw.get("as"), f"{path}.as", seen) if "as" in raw else None
    if fn is None or alias is None or ("field" in raw and field is None):
        return None
    if fn != "count" and field is None:
        return None
    return Aggregate(cast(AggregateFn, fn), alias, field)


def _chart(
    check: _Checker, raw: object, groups: list[GroupBy], aggregates: list[Aggregate]
) -> Chart | None:
    default_x = groups[0].alias if groups else None
    default_y = aggregates[0].alias if aggregates else ""
    if raw is None or raw == {}:
        return Chart("bar", default_x, default_y)
    if not check.keys(raw, "chart", ("type",), ("type", "x", "y", "series")):
        return None
    raw = cast(Mapping[str, Any], raw)
    kind = raw.get("type")
    if kind not in CHART_TYPES:
        check.add("chart.type", _one_of(kind, CHART_TYPES))
    x = raw.get("x", default_x)
    group_aliases = [g.alias for g in groups]
    if x is not None and x not in group_aliases:
        check.add(
            "chart.x",
            f"{x!r:.80} is not a group column; group columns: {', '.join(group_aliases) or 'none'}",
        )
    y = raw.get("y", default_y)
    aggregate_aliases = [a.alias for a in aggregates]
    if y not in aggregate_aliases:
        check.add(
            "chart.y",
            f"{y!r:.80} is not an aggregate column; aggregate columns: "
            f"{', '.join(aggregate_aliases) or 'none'}",
        )
    series = raw.get("series")
    bad_series = series is not None and (series not in group_aliases or series == x)
    if bad_series:
        check.add(
            "chart.series",
            f"{series!r:.80} is not a group column other than chart.x; group columns: "
            f"{', '.join(group_aliases) or 'none'}",
        )
    if (
        kind not in CHART_TYPES
        or (x is not None and x not in group_aliases)
        or y not in aggregate_aliases
        or bad_series
    ):
        return None
    return Chart(cast(ChartType, kind), x, y, series)


def validate_definition(
    definition: Mapping[str, Any], *, topics: Collection[str] | None = None
) -> Definition:
    """Check a report definition and return it parsed; raise with every problem found.

    :param definition: ``{"source_topic", "filters", "group_by", "aggregates", "chart"}`` (filters,
        group_by and chart optional).
    :param topics: the topics that have a :class:`~trellis.reports.Source`; by default those
        the installed plugins give (hook ``reports_sources``).
    :raises DefinitionError: naming each fault's path, such as
        ``group_by[1].truncate: 'fortnight' is not one of day, week, month``.
    """
    check = _Checker()
    if not check.keys(definition, "", ("source_topic", "aggregates"), TOP_KEYS):
        raise DefinitionError(check.problems)
    topic = definition.get("source_topic")
    if topics is None:
        from ._registry import sources

        topics = sources().keys()
    if "source_topic" in definition and (not isinstance(topic, str) or topic not in topics):
        check.add(
            "source_topic",
            f"{topic!r:.80} has no report source; topics with a source: "
            f"{', '.join(sorted(topics)) or 'none (install a plugin giving reports_sources)'}",
        )
    seen: dict[str, str] = {}
    filters = [
        _filter(check, raw, f"filters[{i}]")
        for i, raw in enumerate(check.items(definition.get("filters", []), "filters", MAX_FILTERS))
    ]
    groups = [
        _group(check, raw, f"group_by[{i}]", seen)
        for i, raw in enumerate(
            check.items(definition.get("group_by", []), "group_by", MAX_GROUP_BY)
        )
    ]
    raw_aggregates = (
        check.items(definition["aggregates"], "aggregates", MAX_AGGREGATES, least=1)
        if "aggregates" in definition
        else []
    )
    aggregates = [
        _aggregate(check, raw, f"aggregates[{i}]", seen) for i, raw in enumerate(raw_aggregates)
    ]
    good_groups = [g for g in groups if g is not None]
    good_aggregates = [a for a in aggregates if a is not None]
    chart = _chart(check, definition.get("chart"), good_groups, good_aggregates)
    if check.problems or chart is None:
        raise DefinitionError(check.problems or [Problem("chart", "is invalid")])
    return Definition(
        source_topic=str(topic),
        filters=tuple(f for f in filters if f is not None),
        group_by=tuple(good_groups),
        aggregates=tuple(good_aggregates),
        chart=chart,
    )


def definition_data(definition: Definition) -> dict[str, Any]:
    """``definition`` back as the plain JSON it was validated from (normalized)."""
    return {
        "source_topic": definition.source_topic,
        "filters": [{"field": f.field, "op": f.op, "value": f.value} for f in definition.filters],
        "group_by": [
            {"field": g.field, "as": g.alias, **({"truncate": g.truncate} if g.truncate else {})}
            for g in definition.group_by
        ],
        "aggregates": [
            {"fn": a.fn, **({"field": a.field} if a.field else {}), "as": a.alias}
            for a in definition.aggregates
        ],
        "chart": {
            "type": definition.chart.type,
            "x": definition.chart.x,
            "y": definition.chart.y,
            **({"series": definition.chart.series} if definition.chart.series else {}),
        },
    }


def check_domain(domain: object) -> str:
    """``domain`` if it is a valid domain name, else :class:`DefinitionError` on ``domain``."""
    if not isinstance(domain, str) or not DOMAIN_PATTERN.fullmatch(domain):
        raise DefinitionError(
            [
                Problem(
                    "domain",
                    f"{domain!r:.80} is not a domain name: lower-case letters, "
                    "digits and '-', 1 to 63 characters, not starting or ending with '-'",
                )
            ]
        )
    return domain


def check_slug(slug: object) -> str:
    """``slug`` if it is a valid report slug, else :class:`DefinitionError` on ``slug``."""
    if not isinstance(slug, str) or not SLUG_PATTERN.fullmatch(slug):
        raise DefinitionError(
            [
                Problem(
                    "slug",
                    f"{slug!r:.80} is not a report slug: lower-case letters, digits "
                    "and '_', starting with a letter, at most 63 characters",
                )
            ]
        )
    return slug
