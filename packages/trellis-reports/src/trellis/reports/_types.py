"""Value types: a Source (how to read a topic's raw records) and a parsed report definition."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._errors import ReportsError

FilterOp = Literal["eq", "ne", "in", "lt", "lte", "gt", "gte", "exists"]
Truncate = Literal["day", "week", "month"]
AggregateFn = Literal["count", "sum", "min", "max", "avg", "count_distinct"]
ChartType = Literal["bar", "line"]


@dataclass(frozen=True)
class Source:
    """How to read the raw records of one topic for a rebuild (hook ``reports_sources``).

    :param topic: the events topic whose payloads are the records (``form.submitted``).
    :param id_field: the payload field unique per record (``submission_id``); it keys the
        de-duplication, so a record delivered twice (or seen by a rebuild) counts once.
    :param records: ``records(domain)`` yields every record of one domain, each exactly the
        payload the topic's events carry (its ``domain`` field names the domain). With a
        ``revision_field``, it yields only the latest revision of each record (one per id).
    :param description: one line for error messages and the docs.
    :param revision_field: for records that can be revised (edited after they were
        published, keeping their id): the payload field holding the revision, a positive
        integer growing with each edit (1 for the original). A newer revision of a counted
        record replaces its earlier contribution in every report; an equal or older one (a
        redelivery, or one arriving late) changes nothing. A missing or invalid revision is
        taken as 1 (logged). ``None`` (the default): a record counts once, as first seen.
    """

    topic: str
    id_field: str
    records: Callable[[str], Iterable[Mapping[str, Any]]]
    description: str = ""
    revision_field: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.topic, str) or not self.topic:
            raise ReportsError(f"Source topic must be a topic name, got {self.topic!r}")
        if not isinstance(self.id_field, str) or not self.id_field:
            raise ReportsError(
                f"Source {self.topic!r}: id_field must name the payload field unique per "
                f"record (such as 'submission_id'), got {self.id_field!r}"
            )
        if self.revision_field is not None and (
            not isinstance(self.revision_field, str) or not self.revision_field
        ):
            raise ReportsError(
                f"Source {self.topic!r}: revision_field must name the payload field holding a "
                f"record's revision (such as 'revision') or be None, got {self.revision_field!r}"
            )
        if not callable(self.records):
            raise ReportsError(f"Source {self.topic!r}: records {self.records!r} is not callable")


@dataclass(frozen=True)
class Filter:
    """Keep only records whose ``field`` satisfies ``op`` against ``value``."""

    field: str
    op: FilterOp
    value: Any = True


@dataclass(frozen=True)
class GroupBy:
    """A group column: the value at ``field`` (truncated to a date when ``truncate``)."""

    field: str
    alias: str
    truncate: Truncate | None = None


@dataclass(frozen=True)
class Aggregate:
    """An aggregate column: ``fn`` over ``field`` (``count`` may go without a field)."""

    fn: AggregateFn
    alias: str
    field: str | None = None


@dataclass(frozen=True)
class Chart:
    """How the report page draws the rows: ``type`` with ``x`` a group alias and ``y`` an
    aggregate alias; ``series``, another group alias, draws one line (or bar per x) for each
    of its values, with a legend."""

    type: ChartType
    x: str | None
    y: str
    series: str | None = None


@dataclass(frozen=True)
class Definition:
    """A validated report definition (see :func:`trellis.reports.validate_definition`)."""

    source_topic: str
    filters: tuple[Filter, ...]
    group_by: tuple[GroupBy, ...]
    aggregates: tuple[Aggregate, ...]
    chart: Chart

    @property
    def aliases(self) -> list[str]:
        """Column names in order: the group aliases, then the aggregate aliases."""
        return [g.alias for g in self.group_by] + [a.alias for a in self.aggregates]
