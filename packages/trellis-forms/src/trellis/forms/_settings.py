"""Limits of the receiver, by the settings rule (environment, then Django setting).

Read on every request, so a test or an operator changing a variable is seen at once.
"""

from __future__ import annotations

import re

from trellis.core import ConfigurationError, read_setting

MiB = 1024 * 1024
DEFAULT_MAX_BODY = 20 * MiB
DEFAULT_MAX_ATTACHMENT = 10 * MiB
DEFAULT_MAX_ATTACHMENTS = 20
_SIZE = re.compile(r"[ \t]*([0-9]+)[ \t]*(|b|k|kb|kib|m|mb|mib|g|gb|gib)[ \t]*", re.I | re.ASCII)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": MiB, "g": 1024 * MiB}


def _size(name: str, default: int) -> int:
    value = read_setting(name)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) == 0:
        raise ConfigurationError(
            f"{name} must be a positive number of bytes, optionally with a unit such as "
            f"'10MiB'; found {value!r}"
        )
    return int(match[1]) * _UNITS[match[2][:1].lower()]


def max_body() -> int:
    """``TRELLIS_FORMS_MAX_BODY`` (default 20 MiB): the largest request body the receiver reads."""
    return _size("TRELLIS_FORMS_MAX_BODY", DEFAULT_MAX_BODY)


def max_attachment() -> int:
    """``TRELLIS_FORMS_MAX_ATTACHMENT`` (default 10 MiB): the largest single attachment."""
    return _size("TRELLIS_FORMS_MAX_ATTACHMENT", DEFAULT_MAX_ATTACHMENT)


def max_attachments() -> int:
    """``TRELLIS_FORMS_MAX_ATTACHMENTS`` (default 20): attachments per submission."""
    value = read_setting("TRELLIS_FORMS_MAX_ATTACHMENTS")
    if value is None:
        return DEFAULT_MAX_ATTACHMENTS
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit():
        raise ConfigurationError(
            f"TRELLIS_FORMS_MAX_ATTACHMENTS must be an integer >= 0; found {value!r}"
        )
    return int(text)
