"""Reads: reports of a domain, one report's rows (filtered, paged), who may view them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._aggregates import result
from ._errors import InvalidQuery, UnknownReport
from ._registry import can_view
from ._types import Aggregate, GroupBy

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    from .models import Report

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
GROUP_COLUMNS = ("g0", "g1", "g2", "g3")


@dataclass(frozen=True)
class Column:
    """A column of a report: a group column (``kind="group"``) or an aggregate."""

    name: str
    kind: str
    field: str | None = None
    fn: str | None = None
    truncate: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "field": self.field,
            "fn": self.fn,
            "truncate": self.truncate,
        }


@dataclass(frozen=True)
class ReportResult:
    """One page of a report's rows (values are JSON scalars; numbers are ``int`` or exact
    ``Decimal``; ``None`` where an aggregate had no values)."""

    domain: str
    slug: str
    title: str
    needs_rebuild: bool
    version: int
    updated_at: datetime | None
    chart: dict[str, Any]
    columns: list[Column]
    rows: list[dict[str, Any]]
    count: int
    offset: int = 0
    limit: int | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)

    @property
    def has_more(self) -> bool:
        """Whether rows follow this page."""
        return self.limit is not None and self.offset + len(self.rows) < self.count


def report_can_view(user: AbstractBaseUser | AnonymousUser, domain: str) -> bool:
    """Whether ``user`` may view ``domain``'s reports (staff always; else ``reports_can_view``)."""
    return can_view(user, domain)


def report_get(*, domain: str, slug: str) -> Report:
    """The report ``domain``/``slug``.

    :raises UnknownReport: there is none.
    """
    from .models import Report

    report = Report.objects.filter(domain=domain, slug=slug).first()
    if report is None:
        raise UnknownReport(domain, slug)
    return report


def report_list(*, domain: str | None = None) -> list[Report]:
    """The reports of ``domain`` (all when ``None``), by domain and slug."""
    from .models import Report

    reports = Report.objects.order_by("domain", "slug")
    return list(reports if domain is None else reports.filter(domain=domain))


def _groups(report: Report) -> list[GroupBy]:
    return [GroupBy(g["field"], g["as"], g.get("truncate")) for g in report.group_by]


def _aggregates(report: Report) -> list[Aggregate]:
    return [Aggregate(a["fn"], a["as"], a.get("field")) for a in report.aggregates]


def report_columns(report: Report) -> list[Column]:
    """The report's columns: group columns, then aggregates."""
    return [Column(g.alias, "group", g.field, None, g.truncate) for g in _groups(report)] + [
        Column(a.alias, "aggregate", a.field, a.fn) for a in _aggregates(report)
    ]


def report_query(
    *,
    domain: str,
    slug: str,
    filters: Mapping[str, Sequence[str]] | None = None,
    limit: int | None = None,
    offset: int = 0,
    report: Report | None = None,
) -> ReportResult:
    """Rows of a report from its aggregate rows, in group order (numbers by value, ``null``
    last), optionally filtered on group columns and paged.

    :param filters: group column → the values (as text, as the CSV shows them) to keep.
    :param limit: at most this many rows (1 to 1000); ``None`` for all.
    :param report: the report, if the caller already read it (saves a query).
    :raises UnknownReport: no such report.
    :raises InvalidQuery: an unknown or non-group filter column, a bad limit or offset.
    """
    from .models import ReportRow

    if report is None:
        report = report_get(domain=domain, slug=slug)
    groups = _groups(report)
    aggregates = _aggregates(report)
    rows = ReportRow.objects.filter(report=report)
    applied: dict[str, list[str]] = {}
    for name, wanted in sorted((filters or {}).items()):
        position = next((i for i, g in enumerate(groups) if g.alias == name), None)
        if position is None:
            names = ", ".join(g.alias for g in groups) or "none"
            raise InvalidQuery(
                name, f"{name!r} is not a group column of this report; group columns: {names}"
            )
        # A plain string is one value, not its characters.
        values = [wanted] if isinstance(wanted, str) else [str(v) for v in wanted]
        # Group text never holds NUL (PostgreSQL cannot even compare it): such a value matches
        # nothing.
        usable = [v for v in values if "\x00" not in v]
        rows = rows.filter(**{f"{GROUP_COLUMNS[position]}__in": usable})
        applied[name] = values
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(
            "limit", f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit}"
        )
    if offset < 0:
        raise InvalidQuery("offset", f"offset must be 0 or more, got {offset}")
    count = rows.count()
    ordered = rows.order_by("sort", "key").values_list("values", "state")
    page = ordered[offset : offset + limit] if limit is not None else ordered[offset:]
    found = []
    for values, state in page:
        # A row written under a newer definition than ``report`` (changed since it was read)
        # may have fewer group values: those are missing, not an error.
        row: dict[str, Any] = {
            g.alias: values[i] if i < len(values) else None for i, g in enumerate(groups)
        }
        for a in aggregates:
            row[a.alias] = result(a.fn, state.get(a.alias))
        found.append(row)
    return ReportResult(
        domain=report.domain,
        slug=report.slug,
        title=report.title,
        needs_rebuild=report.needs_rebuild,
        version=report.version,
        updated_at=report.updated_at,
        chart=dict(report.chart or {}),
        columns=report_columns(report),
        rows=found,
        count=count,
        offset=offset,
        limit=limit,
        filters=applied,
    )
