"""Django system checks: a task setup that cannot work shows in ``manage.py check``.

========================  ==========================================================
``trellis_tasks.E001``    the selected provider is unknown, disabled or quarantined
``trellis_tasks.E002``    celery selected but not installed, or a broker setting unusable
                          (URL, visibility timeout, transport options)
``trellis_tasks.E003``    a plugin's tasks or schedules are malformed or clash
``trellis_tasks.E004``    a seconds setting of every provider is malformed
                          (``TRELLIS_TASKS_REQUEUE_AFTER``, ``..._HEARTBEAT_MAX_AGE``)
========================  ==========================================================
"""

from __future__ import annotations

import importlib.util
from typing import Any

from django.core import checks

from trellis.core import ConfigurationError, TrellisError, get_host


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every check of the module docstring's table."""
    try:
        provider = get_host().selected_provider("tasks")
    except TrellisError as exc:
        return [checks.Error(str(exc), id="trellis_tasks.E001")]
    messages: list[checks.CheckMessage] = []
    if provider == "celery":
        if importlib.util.find_spec("celery") is None:
            messages.append(
                checks.Error(
                    "the celery tasks provider needs celery, which is not installed",
                    hint="pip install 'trellis-tasks[celery]'",
                    id="trellis_tasks.E002",
                )
            )
        else:
            from ._settings import broker_transport_options, broker_url, visibility_timeout

            for read in (broker_url, visibility_timeout, broker_transport_options):
                try:
                    read()
                except ConfigurationError as exc:
                    messages.append(checks.Error(str(exc), id="trellis_tasks.E002"))
    from ._settings import heartbeat_max_age, requeue_after

    # Read on use only (by tasks.requeue, the heartbeat check): check them now instead.
    for read_seconds in (requeue_after, heartbeat_max_age):
        try:
            read_seconds()
        except ConfigurationError as exc:
            messages.append(checks.Error(str(exc), id="trellis_tasks.E004"))
    from ._registry import all_tasks

    try:
        all_tasks()
    except TrellisError as exc:
        messages.append(checks.Error(str(exc), id="trellis_tasks.E003"))
    return messages
