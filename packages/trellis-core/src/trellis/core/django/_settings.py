"""One rule for reading a ``TRELLIS_*`` setting: the environment, then Django's settings."""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def setting(name: str, default: str = "", *, environ: Mapping[str, str] | None = None) -> str:
    """The value of ``name`` from the environment, else the Django setting, else ``default``.

    The environment wins so an operator can override a deployed settings file. Read on
    every call: a changed Django setting (``override_settings``) or variable applies at once.
    """
    env = os.environ if environ is None else environ
    if name in env:
        return env[name].strip()
    value = getattr(settings, name, None)
    return default if value is None else str(value).strip()


def seconds_setting(name: str, default: float) -> float:
    """A positive number of seconds read with :func:`setting`.

    :raises ImproperlyConfigured: the value is not a positive number; the message names it.
    """
    text = setting(name, str(default))
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ImproperlyConfigured(f"{name} must be a positive number of seconds; found {text!r}")
    return value
