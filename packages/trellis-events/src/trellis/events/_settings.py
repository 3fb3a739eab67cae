"""Settings of the events subsystem, by the settings rule (environment, then Django setting).

Read on every use, so a test or an operator changing a variable is seen at once.
"""

from __future__ import annotations

from trellis.core import ConfigurationError, read_setting

DEFAULT_PARTITIONS = 4
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PREFIX = "trellis:events"


def _number(name: str, default: float, *, minimum: float, integer: bool = False) -> float:
    value = read_setting(name)
    if value is None:
        return default
    try:
        number = int(str(value)) if integer else float(str(value))
    except ValueError:
        number = None
    if number is None or number < minimum:
        kind = "an integer" if integer else "a number"
        raise ConfigurationError(f"{name} must be {kind} >= {minimum}; found {value!r}")
    return number


def partitions() -> int:
    """``TRELLIS_EVENTS_PARTITIONS`` (default 4): partitions per topic. Changing it while events
    are in flight breaks per-key order for those events (a key may move to another partition)."""
    return int(_number("TRELLIS_EVENTS_PARTITIONS", DEFAULT_PARTITIONS, minimum=1, integer=True))


def redis_url() -> str:
    """``TRELLIS_EVENTS_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``)."""
    return str(read_setting("TRELLIS_EVENTS_REDIS_URL") or DEFAULT_REDIS_URL)


def redis_prefix() -> str:
    """``TRELLIS_EVENTS_REDIS_PREFIX`` (default ``trellis:events``): prefix of every key."""
    return str(read_setting("TRELLIS_EVENTS_REDIS_PREFIX") or DEFAULT_PREFIX)


def socket_timeout() -> float:
    """``TRELLIS_EVENTS_REDIS_TIMEOUT`` (seconds, default 5): every Redis call's socket timeout."""
    return _number("TRELLIS_EVENTS_REDIS_TIMEOUT", 5.0, minimum=0.1)


def lease_seconds() -> float:
    """``TRELLIS_EVENTS_LEASE_SECONDS`` (default 15): how long a consumer owns a partition without
    renewing; a dead consumer's partitions and pending entries are taken over after it."""
    return _number("TRELLIS_EVENTS_LEASE_SECONDS", 15.0, minimum=0.5)


def poll_seconds() -> float:
    """``TRELLIS_EVENTS_POLL_SECONDS`` (default 0.05): the longest a consumer waits for new
    entries before relaying the outbox again (the latency floor of an idle system)."""
    return _number("TRELLIS_EVENTS_POLL_SECONDS", 0.05, minimum=0.001)


def lag_warning() -> int:
    """``TRELLIS_EVENTS_LAG_WARNING`` (default 1000): the health check warns above this lag."""
    return int(_number("TRELLIS_EVENTS_LAG_WARNING", 1000, minimum=1, integer=True))
