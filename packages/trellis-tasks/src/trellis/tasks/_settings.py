"""Settings of the tasks subsystem, read on every use (environment, then Django setting)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trellis.core import ConfigurationError, read_setting

DEFAULT_VISIBILITY_TIMEOUT = 3600
DEFAULT_HEARTBEAT_MAX_AGE = 300
DEFAULT_REQUEUE_AFTER = 3600


def _seconds(name: str, default: int) -> int:
    value = read_setting(name)
    if value is None:
        return default
    try:
        seconds = int(str(value))
    except ValueError:
        seconds = -1
    if seconds <= 0:
        raise ConfigurationError(
            f"{name} must be a whole number of seconds > 0 (default {default}); found {value!r}"
        )
    return seconds


def broker_url() -> str:
    """``TRELLIS_TASKS_BROKER_URL``: ``redis://...`` or ``amqp://...`` (celery provider).

    :raises ConfigurationError: unset, or another scheme.
    """
    value = read_setting("TRELLIS_TASKS_BROKER_URL")
    if value is None:
        raise ConfigurationError(
            "TRELLIS_TASKS_BROKER_URL is not set: the celery tasks provider needs a broker, "
            "e.g. redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//"
        )
    url = str(value)
    if not url.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
        scheme = url.split("://", 1)[0] if "://" in url else url[:10]
        raise ConfigurationError(
            f"TRELLIS_TASKS_BROKER_URL must be a redis://, rediss://, amqp:// or amqps:// URL; "
            f"found scheme {scheme!r}"
        )
    return url


def visibility_timeout() -> int:
    """``TRELLIS_TASKS_VISIBILITY_TIMEOUT`` (Redis broker): seconds before an unacknowledged
    message is redelivered (a worker was killed). Longer than the longest task, else a
    running task is delivered twice. Default 3600."""
    return _seconds("TRELLIS_TASKS_VISIBILITY_TIMEOUT", DEFAULT_VISIBILITY_TIMEOUT)


def heartbeat_max_age() -> int:
    """``TRELLIS_TASKS_HEARTBEAT_MAX_AGE``: seconds a queue with pending durable work may go
    without a pick-up before ``tasks.heartbeat`` warns. Default 300."""
    return _seconds("TRELLIS_TASKS_HEARTBEAT_MAX_AGE", DEFAULT_HEARTBEAT_MAX_AGE)


def requeue_after() -> int:
    """``TRELLIS_TASKS_REQUEUE_AFTER``: age in seconds of an unfinished durable record that
    the periodic ``tasks.requeue`` sends again. Default 3600."""
    return _seconds("TRELLIS_TASKS_REQUEUE_AFTER", DEFAULT_REQUEUE_AFTER)


def broker_transport_options() -> dict[str, Any]:
    """``TRELLIS_TASKS_BROKER_TRANSPORT_OPTIONS``: extra kombu transport options, a dict (or a
    JSON object in the environment). They win over the options the provider derives, such as
    ``visibility_timeout`` from ``TRELLIS_TASKS_VISIBILITY_TIMEOUT``. Default ``{}``.

    :raises ConfigurationError: not a dict, or not a JSON object.
    """
    value = read_setting("TRELLIS_TASKS_BROKER_TRANSPORT_OPTIONS")
    if value is None:
        return {}
    parsed: object = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            parsed = exc
    if not isinstance(parsed, Mapping):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        why = f" ({parsed})" if isinstance(parsed, ValueError) else ""
        raise ConfigurationError(
            "TRELLIS_TASKS_BROKER_TRANSPORT_OPTIONS must be a JSON object (a dict in settings) "
            f'such as {{"visibility_timeout": 600}}; found {shown}{why}'
        )
    return dict(parsed)
