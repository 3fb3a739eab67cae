"""One rule for reading a ``TRELLIS_*`` setting: the environment, then Django's settings."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

from .._config import read_setting


def setting(name: str, default: str = "", *, environ: Mapping[str, str] | None = None) -> str:
    """:func:`trellis.core.read_setting` as text: ``default`` when unset or blank.

    The environment wins so an operator can override a deployed settings file. Read on
    every call: a changed Django setting (``override_settings``) or variable applies at once.
    """
    value = read_setting(name, environ=environ)
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
