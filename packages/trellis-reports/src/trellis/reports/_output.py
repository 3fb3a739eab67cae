"""A report result as JSON, as CSV (formula-injection safe) and as display text."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from ._values import decimal_text, json_number
from .selectors import ReportResult

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is prefixed with ``'`` in CSV: a spreadsheet would
otherwise run it as a formula (OWASP "CSV injection"). Numbers are written as numbers."""


def json_value(value: Any) -> Any:
    """A row value for JSON: Decimals as int (integral) or float."""
    return json_number(value) if isinstance(value, Decimal) else value


def text(value: Any) -> str:
    """A row value as the CSV, the table and the chart show it (``""`` for null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, int | float):
        return decimal_text(Decimal(repr(value))) if isinstance(value, float) else str(value)
    return str(value)


def safe_cell(value: Any) -> str:
    """:func:`text`, with ``'`` before a text cell that a spreadsheet would take as a formula."""
    shown = text(value)
    if isinstance(value, str) and shown.startswith(FORMULA_STARTS):
        return "'" + shown
    return shown


def as_json(found: ReportResult, next_url: str | None) -> dict[str, Any]:
    """The API's JSON body for one page of a report."""
    return {
        "domain": found.domain,
        "slug": found.slug,
        "title": found.title,
        "needs_rebuild": found.needs_rebuild,
        "version": found.version,
        "columns": [c.as_dict() for c in found.columns],
        "rows": [{k: json_value(v) for k, v in row.items()} for row in found.rows],
        "count": found.count,
        "next": next_url,
    }


def as_csv(found: ReportResult) -> str:
    """The rows as CSV (RFC 4180 quoting, CRLF line ends) with a header row of column names."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    names = [c.name for c in found.columns]
    writer.writerow(names)
    for row in found.rows:
        writer.writerow([safe_cell(row.get(name)) for name in names])
    return out.getvalue()
