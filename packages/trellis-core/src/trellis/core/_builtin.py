"""trellis-core's own plugin: the dashboard/health app, the edge middleware, a database check."""

from __future__ import annotations

from collections.abc import Sequence

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


def _database_check() -> HealthResult:
    from django.db import connections

    vendors: dict[str, object] = {}
    for alias in connections:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        vendors[alias] = connections[alias].vendor
    return HealthResult("ok", ", ".join(f"{a}: {v}" for a, v in vendors.items()), vendors)
