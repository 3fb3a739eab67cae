"""Settings of trellis-reports, by the settings rule (environment, then Django setting)."""

from __future__ import annotations

from trellis.core import ConfigurationError, read_setting

MAX_CACHE_SECONDS = 365 * 24 * 3600
"""One year: longer times overflow some cache backends (Redis refuses them)."""


def _integer(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    value = read_setting(name)
    if value is None:
        return default
    try:
        number = int(str(value))
    except ValueError:
        number = minimum - 1
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ConfigurationError(f"{name} must be an integer {bounds}; found {value!r:.80}")
    return number


def cache_alias() -> str:
    """``TRELLIS_REPORTS_CACHE`` (default ``default``): the Django cache answers are kept in;
    it must name one of ``CACHES``."""
    from django.conf import settings

    alias = str(read_setting("TRELLIS_REPORTS_CACHE") or "default")
    configured = getattr(settings, "CACHES", {}) or {}
    if alias not in configured:
        raise ConfigurationError(
            f"TRELLIS_REPORTS_CACHE must name a cache of CACHES "
            f"({', '.join(sorted(configured)) or 'none'}); found {alias!r:.80}"
        )
    return alias


def cache_seconds() -> int:
    """``TRELLIS_REPORTS_CACHE_SECONDS`` (default 300, at most one year): how long an answer
    is kept; 0 turns caching off. Freshness does not depend on it: a change bumps the report's
    version, which is part of the key."""
    return _integer("TRELLIS_REPORTS_CACHE_SECONDS", 300, 0, MAX_CACHE_SECONDS)


def lag_warning() -> int:
    """``TRELLIS_REPORTS_LAG_WARNING`` (default 1000): ``reports.freshness`` warns when the
    ``reports`` processor is more events behind than this."""
    return _integer("TRELLIS_REPORTS_LAG_WARNING", 1000, 1)
