"""The OpenAPI 3.1 part for the reports API (hook ``core_openapi``)."""

from __future__ import annotations

from typing import Any

from ._definitions import DOMAIN_PATTERN, SLUG_PATTERN
from .selectors import DEFAULT_LIMIT, MAX_LIMIT


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("ReportsError")}},
    }


DOMAIN = {
    "name": "domain",
    "in": "path",
    "required": True,
    "description": "The domain (project) name.",
    "schema": {"type": "string", "pattern": f"^{DOMAIN_PATTERN.pattern}$"},
}
SLUG = {
    "name": "slug",
    "in": "path",
    "required": True,
    "description": "The report's slug.",
    "schema": {"type": "string", "pattern": f"^{SLUG_PATTERN.pattern}$"},
}
SCALAR = {"type": ["string", "number", "integer", "boolean", "null"]}
COLUMN = {
    "type": "object",
    "required": ["name", "kind", "field", "fn", "truncate"],
    "properties": {
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["group", "aggregate"]},
        "field": {"type": ["string", "null"]},
        "fn": {
            "type": ["string", "null"],
            "enum": ["count", "sum", "min", "max", "avg", "count_distinct", None],
        },
        "truncate": {"type": ["string", "null"], "enum": ["day", "week", "month", None]},
    },
}


def openapi() -> dict[str, Any]:
    """Paths and components of ``/a/{domain}/api/reports/`` and ``.../{slug}/``."""
    refused = {
        "401": _error("Not logged in and no API key (`WWW-Authenticate` says how)."),
        "404": _error("No such domain or report, or the user may not view it."),
    }
    return {
        "paths": {
            "/a/{domain}/api/reports/": {
                "get": {
                    "operationId": "reports_list",
                    "summary": "The reports of a domain",
                    "tags": ["reports"],
                    "parameters": [DOMAIN],
                    "responses": {
                        "200": {
                            "description": "Every report of the domain.",
                            "content": {"application/json": {"schema": _ref("ReportList")}},
                        },
                        **refused,
                    },
                }
            },
            "/a/{domain}/api/reports/{slug}/": {
                "get": {
                    "operationId": "reports_query",
                    "summary": "A report's rows (JSON or CSV), from its aggregate rows",
                    "description": (
                        "Filter on group columns with `?<column>=<value>` (repeat for several "
                        "values; values as the CSV shows them). JSON is paged with `limit` and "
                        "`offset`; CSV has every matching row unless they are given. Unknown "
                        "parameters are refused with 400."
                    ),
                    "tags": ["reports"],
                    "parameters": [
                        DOMAIN,
                        SLUG,
                        {
                            "name": "format",
                            "in": "query",
                            "schema": {
                                "type": "string",
                                "enum": ["json", "csv"],
                                "default": "json",
                            },
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "description": f"Rows per page (JSON default {DEFAULT_LIMIT}).",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                        },
                        {
                            "name": "offset",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": 999_999_999,
                                "default": 0,
                            },
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The rows (a header row first in CSV).",
                            "content": {
                                "application/json": {"schema": _ref("ReportResult")},
                                "text/csv": {"schema": {"type": "string"}},
                            },
                        },
                        "400": _error("A bad `format`, `limit`, `offset` or filter column."),
                        **refused,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "ReportsError": {
                    "type": "object",
                    "required": ["code", "message", "field", "request_id"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                        "request_id": {"type": "string"},
                    },
                },
                "ReportColumn": COLUMN,
                "ReportSummary": {
                    "type": "object",
                    "required": [
                        "slug",
                        "title",
                        "source_topic",
                        "needs_rebuild",
                        "records",
                        "rows",
                    ],
                    "properties": {
                        "slug": {"type": "string"},
                        "title": {"type": "string"},
                        "source_topic": {"type": "string"},
                        "needs_rebuild": {"type": "boolean"},
                        "records": {"type": "integer"},
                        "rows": {"type": "integer"},
                        "version": {"type": "integer"},
                        "columns": {"type": "array", "items": _ref("ReportColumn")},
                        "url": {"type": "string"},
                        "page": {"type": "string"},
                    },
                },
                "ReportList": {
                    "type": "object",
                    "required": ["count", "next", "results"],
                    "properties": {
                        "count": {"type": "integer"},
                        "next": {"type": "null"},
                        "results": {"type": "array", "items": _ref("ReportSummary")},
                    },
                },
                "ReportResult": {
                    "type": "object",
                    "required": ["columns", "rows", "count", "next", "needs_rebuild"],
                    "properties": {
                        "domain": {"type": "string"},
                        "slug": {"type": "string"},
                        "title": {"type": "string"},
                        "needs_rebuild": {
                            "type": "boolean",
                            "description": "The definition changed since the last rebuild.",
                        },
                        "version": {"type": "integer"},
                        "columns": {"type": "array", "items": _ref("ReportColumn")},
                        "rows": {
                            "type": "array",
                            "items": {"type": "object", "additionalProperties": SCALAR},
                        },
                        "count": {"type": "integer", "description": "Rows matching the filters."},
                        "next": {"type": ["string", "null"], "description": "The next page."},
                    },
                },
            }
        },
    }
