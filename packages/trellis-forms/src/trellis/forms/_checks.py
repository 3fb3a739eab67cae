"""Django system checks of trellis-forms (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error

from trellis.core import ConfigurationError

from . import _settings


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The receiver's limits parse (``TRELLIS_FORMS_MAX_*``)."""
    found: list[CheckMessage] = []
    for read in (_settings.max_body, _settings.max_attachment, _settings.max_attachments):
        try:
            read()
        except ConfigurationError as exc:
            found.append(Error(str(exc), id="trellis_forms.E001"))
    return found
