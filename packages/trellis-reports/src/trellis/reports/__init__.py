"""trellis-reports: declarative reports per domain, kept up to date from the event feed.

    from trellis import reports

    reports.report_define(
        domain="demo", slug="visits", title="Visits by village", source_topic="form.submitted",
        group_by=[{"field": "data.village", "as": "village"}],
        aggregates=[{"fn": "count", "as": "visits"}],
    )
    reports.report_rebuild(domain="demo", slug="visits")
    reports.report_query(domain="demo", slug="visits").rows

A plugin gives a :class:`Source` per topic (hook ``reports_sources``); the ``reports``
events processor counts each new record in the reports of its domain, exactly once, and a
rebuild recomputes the same numbers from the source's raw records.
"""

from __future__ import annotations

from ._definitions import validate_definition
from ._errors import (
    DefinitionError,
    InvalidQuery,
    Problem,
    ReportsError,
    UnknownReport,
    UnknownSource,
)
from ._processing import handle_events
from ._registry import sources
from ._types import Aggregate, Chart, Definition, Filter, GroupBy, Source
from ._version import __version__
from .selectors import (
    Column,
    ReportResult,
    report_can_view,
    report_columns,
    report_get,
    report_list,
    report_query,
)
from .services import (
    RebuildResult,
    report_define,
    report_delete,
    report_rebuild,
    report_rebuild_all,
)

__all__ = [
    "Aggregate",
    "Chart",
    "Column",
    "Definition",
    "DefinitionError",
    "Filter",
    "GroupBy",
    "InvalidQuery",
    "Problem",
    "RebuildResult",
    "ReportResult",
    "ReportsError",
    "Source",
    "UnknownReport",
    "UnknownSource",
    "__version__",
    "handle_events",
    "report_can_view",
    "report_columns",
    "report_define",
    "report_delete",
    "report_get",
    "report_list",
    "report_query",
    "report_rebuild",
    "report_rebuild_all",
    "sources",
    "validate_definition",
]
