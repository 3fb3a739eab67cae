"""Django system checks of trellis-events (``manage.py check``)."""

from __future__ import annotations

import importlib.util
from typing import Any

from django.core.checks import CheckMessage, Error

from trellis.core import ConfigurationError, TrellisError, get_host

from . import _settings
from ._errors import EventsError
from ._registry import processors, topic_problems


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The provider is selectable, the processors load, the settings parse, and the redis
    provider has its client."""
    try:
        # First: with the events plugin disabled or quarantined nothing else can be checked.
        provider = get_host().selected_provider("events")
    except TrellisError as exc:
        return [Error(str(exc), id="trellis_events.E004")]
    found: list[CheckMessage] = [
        Error(problem, id="trellis_events.E001") for problem in topic_problems()
    ]
    try:
        processors()
    except EventsError as exc:
        found.append(Error(str(exc), id="trellis_events.E001"))
    try:
        _settings.partitions()
        _settings.lease_seconds()
        _settings.socket_timeout()
        _settings.poll_seconds()
        _settings.lag_warning()
    except ConfigurationError as exc:
        found.append(Error(str(exc), id="trellis_events.E002"))
    if provider == "redis-streams" and importlib.util.find_spec("redis") is None:
        found.append(
            Error(
                "the redis-streams events provider needs the redis client, which is not installed",
                hint="pip install 'trellis-events[redis]'",
                id="trellis_events.E003",
            )
        )
    return found
