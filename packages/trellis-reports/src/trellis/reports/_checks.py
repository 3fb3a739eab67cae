"""Django system checks of trellis-reports (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from trellis.core import ConfigurationError, TrellisError

from . import _settings
from ._registry import source_problems, sources


def check_sources(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Plugins' sources load, their topics are declared events topics, the settings parse."""
    found: list[CheckMessage] = [
        Error(problem, id="trellis_reports.E001") for problem in source_problems()
    ]
    try:
        from trellis.events import topics

        declared = topics()
    except TrellisError as exc:
        return [*found, Error(str(exc), id="trellis_reports.E002")]
    for topic in sorted(sources()):
        if topic not in declared:
            found.append(
                Warning(
                    f"report source topic {topic!r} is not a declared events topic, so no "
                    "processor keeps its reports up to date",
                    hint="declare it with a plugin's events_topics() hook",
                    id="trellis_reports.W001",
                )
            )
    for read in (_settings.cache_seconds, _settings.cache_alias, _settings.lag_warning):
        try:
            read()
        except ConfigurationError as exc:
            found.append(Error(str(exc), id="trellis_reports.E003"))
    return found
