"""Limits of the receiver, by the settings rule (environment, then Django setting).

Read on every request, so a test or an operator changing a variable is seen at once.
"""

from __future__ import annotations

from trellis.core import ConfigurationError, read_setting, read_size_setting

MiB = 1024 * 1024
DEFAULT_MAX_BODY = 20 * MiB
DEFAULT_MAX_ATTACHMENT = 10 * MiB
DEFAULT_MAX_ATTACHMENTS = 20


def max_body() -> int:
    """``TRELLIS_FORMS_MAX_BODY`` (default 20 MiB): the largest request body the receiver reads."""
    return read_size_setting("TRELLIS_FORMS_MAX_BODY", DEFAULT_MAX_BODY)


def max_attachment() -> int:
    """``TRELLIS_FORMS_MAX_ATTACHMENT`` (default 10 MiB): the largest single attachment."""
    return read_size_setting("TRELLIS_FORMS_MAX_ATTACHMENT", DEFAULT_MAX_ATTACHMENT)


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
