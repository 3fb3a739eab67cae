"""Settings of trellis-reports, by the settings rule (environment, then Django setting)."""

from __future__ import annotations

from trellis.core import ConfigurationError, read_setting


def _integer(name: str, default: int, minimum: int) -> int:
    value = read_setting(name)
    if value is None:
        return default
    try:
        number = int(str(value))
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise ConfigurationError(f"{name} must be an integer >= {minimum}; found {value!r}")
    return number


def cache_alias() -> str:
    """``TRELLIS_REPORTS_CACHE`` (default ``default``): the Django cache answers are kept in."""
    return str(read_setting("TRELLIS_REPORTS_CACHE") or "default")


def cache_seconds() -> int:
    """``TRELLIS_REPORTS_CACHE_SECONDS`` (default 300): how long an answer is kept; 0 turns
    caching off. Freshness does not depend on it: a change bumps the report's version, which
    is part of the key."""
    return _integer("TRELLIS_REPORTS_CACHE_SECONDS", 300, 0)


def lag_warning() -> int:
    """``TRELLIS_REPORTS_LAG_WARNING`` (default 1000): ``reports.freshness`` warns when the
    ``reports`` processor is more events behind than this."""
    return _integer("TRELLIS_REPORTS_LAG_WARNING", 1000, 1)
