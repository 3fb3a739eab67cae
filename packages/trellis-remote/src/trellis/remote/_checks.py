"""System checks (``manage.py check``, ``trellis check``) of trellis-remote's settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core import checks

from trellis.core import ConfigurationError, ProviderError, get_host

from ._settings import client_settings, server_settings


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E001 unusable server settings; E002 serving a contract that is missing, not remotable
    or itself remote; E003 a client without URL or secret; W001 a nonce cache other than
    the database table or Redis."""
    found: list[checks.CheckMessage] = []
    host = get_host()
    try:
        server = server_settings()
    except ConfigurationError as exc:
        return [checks.Error(str(exc), id="trellis_remote.E001")]
    if server.serve and not server.secrets:
        found.append(
            checks.Error(
                f"TRELLIS_REMOTE_SERVE names {sorted(server.serve)} but TRELLIS_REMOTE_SECRET "
                "is not set: every call would be refused",
                id="trellis_remote.E001",
            )
        )
    contracts = host.contracts()
    for name in sorted(server.serve):
        problem = None
        if name not in contracts:
            problem = f"contract {name!r} is not installed"
        else:
            try:
                if host.selected_provider(name) == "remote":
                    problem = (
                        f"its provider is 'remote' itself: the service would call itself; select "
                        f"a storing provider with TRELLIS_{name.upper()}_PROVIDER"
                    )
            except ProviderError as exc:
                problem = str(exc)
        if problem:
            found.append(
                checks.Error(
                    f"TRELLIS_REMOTE_SERVE serves {name!r}, but {problem}", id="trellis_remote.E002"
                )
            )
    for name in sorted(contracts):
        try:
            selected = host.selected_provider(name)
        except ProviderError:
            continue
        if selected == "remote":
            try:
                client_settings(name)
            except ConfigurationError as exc:
                found.append(checks.Error(str(exc), id="trellis_remote.E003"))
    if server.serve and server.nonce_cache:
        backend = django_settings.CACHES.get(server.nonce_cache, {}).get("BACKEND", "")
        if not backend.endswith("RedisCache"):
            found.append(
                checks.Warning(
                    f"the nonce cache {server.nonce_cache!r} ({backend or 'not configured'}) "
                    "may lose nonces before they expire (a per-process cache, or one that culls "
                    "entries when full), and a lost nonce can be replayed",
                    hint="leave TRELLIS_REMOTE_NONCE_CACHE empty (the database table) or use Redis",
                    id="trellis_remote.W001",
                )
            )
    return found
