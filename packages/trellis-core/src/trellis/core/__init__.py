"""trellis-core: the plugin host every Trellis subsystem and service is built on.

Subsystems declare hook specifications under a versioned :class:`Contract`, plugins implement
them, and a :class:`Host` loads installed plugins (quarantining broken ones), routes provider
hooks to the selected provider and collects extension hooks from all.
"""

from __future__ import annotations

from ._config import Config, read_setting, read_size_setting
from ._context import request_id
from ._contracts import Contract
from ._errors import (
    ConfigurationError,
    ContractError,
    PluginLoadError,
    ProviderError,
    ProviderFailed,
    ProviderNotSelected,
    ProviderUnavailable,
    TrellisError,
    UnknownCheck,
    UnknownProvider,
)
from ._global import get_host, set_host
from ._health import CheckOutcome, HealthReport, run_health_checks
from ._host import Host, create_host
from ._markers import (
    ENTRY_POINT_GROUP,
    PROJECT_NAME,
    hookimpl,
    hookspec,
    remotable,
    remote_options,
)
from ._monitor import CallStats, Monitor
from ._records import HookInfo, Implementer, PluginRecord
from ._types import DashboardPanel, HealthCheck, HealthResult, HealthStatus, Link, UrlMount

__all__ = [
    "ENTRY_POINT_GROUP",
    "PROJECT_NAME",
    "CallStats",
    "CheckOutcome",
    "Config",
    "ConfigurationError",
    "Contract",
    "ContractError",
    "DashboardPanel",
    "HealthCheck",
    "HealthReport",
    "HealthResult",
    "HealthStatus",
    "HookInfo",
    "Host",
    "Implementer",
    "Link",
    "Monitor",
    "PluginLoadError",
    "PluginRecord",
    "ProviderError",
    "ProviderFailed",
    "ProviderNotSelected",
    "ProviderUnavailable",
    "TrellisError",
    "UnknownCheck",
    "UnknownProvider",
    "UrlMount",
    "create_host",
    "get_host",
    "hookimpl",
    "hookspec",
    "read_setting",
    "read_size_setting",
    "remotable",
    "remote_options",
    "request_id",
    "run_health_checks",
    "set_host",
]
