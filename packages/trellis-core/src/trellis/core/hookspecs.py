"""Hooks of the ``core`` contract: what a plugin contributes to the composed service.

Every hook here is an *extension* hook: all active plugins are called. Composition reads the
results in plugin load order (built-ins first, then installed plugins by entry-point name, then
plugins handed over in code), which makes INSTALLED_APPS, MIDDLEWARE and URL order stable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._contracts import Contract
from ._markers import hookspec
from ._types import DashboardPanel, HealthCheck, UrlMount

CONTRACT = Contract("core", "1.2.0", description="Composition of plugins into a Django service")


@hookspec
def core_django_apps() -> Sequence[str]:
    """Django applications the plugin needs in ``INSTALLED_APPS``.

    Extension hook: every plugin's apps are added after the project's own, once each.

    :return: dotted paths of app modules or ``AppConfig`` classes.
    """


@hookspec
def core_django_middleware() -> Sequence[str]:
    """Middleware classes the plugin needs, appended after the project's own ``MIDDLEWARE``.

    Extension hook.

    :return: dotted paths of middleware classes.
    """


@hookspec
def core_settings_defaults() -> Mapping[str, object]:
    """Default values for Django settings the plugin reads.

    Extension hook: a default never overrides a value the project sets; two plugins giving
    different defaults for one setting is a configuration error naming both.

    :return: setting name → default value.
    """


@hookspec
def core_url_mounts() -> Sequence[UrlMount]:
    """URL configurations the plugin serves, mounted by the composed service's ``urls.py``.

    Extension hook.

    :return: the plugin's :class:`~trellis.core.UrlMount` objects.
    """


@hookspec
def core_health_checks() -> Sequence[HealthCheck]:
    """Checks run by the ``/health`` endpoint.

    Extension hook: names must be unique across plugins.

    :return: the plugin's :class:`~trellis.core.HealthCheck` objects.
    """


@hookspec
def core_dashboard_panels() -> Sequence[DashboardPanel]:
    """Tables the plugin adds to the staff dashboard (contract 1.1).

    Extension hook: panels are shown in plugin load order, after the core sections. A plugin
    whose hook raises, or returns something that is not :class:`~trellis.core.DashboardPanel`
    objects, is shown as one panel with the error; the rest of the dashboard still renders.

    :return: the plugin's :class:`~trellis.core.DashboardPanel` objects.
    """


@hookspec
def core_openapi() -> Mapping[str, Any]:
    """The part of the service's OpenAPI 3.1 document this plugin's HTTP API covers (contract 1.2).

    Extension hook. Return ``{"paths": {...}, "components": {...}}`` with absolute paths
    (``/a/{domain}/receiver/``); core merges every plugin's part and serves the whole document
    at ``/api/openapi.json`` to logged-in users. A path or component name that an earlier
    plugin (in load order) already gave is kept from that plugin; the clash is listed under
    ``x-trellis-conflicts`` and logged. A plugin whose hook raises is left out and named under
    ``x-trellis-errors``.

    :return: a mapping with ``paths`` and optionally ``components`` (OpenAPI 3.1 objects).
    """
