"""trellis-core's own plugin: the dashboard/health app, the edge middleware, a database check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import hookspecs
from ._markers import hookimpl
from ._types import HealthCheck, HealthResult, UrlMount

TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2"}
TRELLIS_HOOKSPECS = [hookspecs]


@hookimpl
def core_django_apps() -> Sequence[str]:
    return ["trellis.core.django"]


@hookimpl
def core_django_middleware() -> Sequence[str]:
    return ["trellis.core.django.EdgeMiddleware"]


@hookimpl
def core_url_mounts() -> Sequence[UrlMount]:
    return [UrlMount("", "trellis.core.django.urls", "trellis")]


@hookimpl
def core_health_checks() -> Sequence[HealthCheck]:
    return [HealthCheck("database", _database_check)]


@hookimpl
def core_openapi() -> Mapping[str, Any]:
    status = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": ["ok", "warn", "fail"]}},
    }
    return {
        "paths": {
            "/health/live": {
                "get": {
                    "summary": "Liveness: the process answers",
                    "operationId": "core_health_live",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "alive",
                            "content": {"application/json": {"schema": status}},
                        }
                    },
                }
            },
            "/health/ready": {
                "get": {
                    "summary": "Readiness: cheap health checks (details for monitors only)",
                    "operationId": "core_health_ready",
                    "security": [],
                    "responses": {
                        code: {
                            "description": text,
                            "content": {"application/json": {"schema": status}},
                        }
                        for code, text in (("200", "ready (ok or warn)"), ("503", "a check failed"))
                    },
                }
            },
        }
    }


def _database_check() -> HealthResult:
    from django.db import connections

    vendors: dict[str, object] = {}
    for alias in connections:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        vendors[alias] = connections[alias].vendor
    return HealthResult("ok", ", ".join(f"{a}: {v}" for a, v in vendors.items()), vendors)
