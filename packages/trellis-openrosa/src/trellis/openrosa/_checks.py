"""Django system checks of trellis-openrosa (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from trellis.core import ConfigurationError

from . import _settings

RECORDER = "trellis.openrosa.auth.DigestPasswordRecorder"


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The settings parse, and passwords set from now on are recorded for Digest."""
    found: list[CheckMessage] = []
    for read in (_settings.max_body, _settings.realm):
        try:
            read()
        except ConfigurationError as exc:
            found.append(Error(str(exc), id="trellis_openrosa.E001"))
    names = [v.get("NAME") for v in getattr(settings, "AUTH_PASSWORD_VALIDATORS", [])]
    if RECORDER not in names:
        found.append(
            Warning(
                "OpenRosa Digest authentication (what ODK Collect uses) needs each user's "
                "Digest credential, recorded when a password is set",
                hint=f'add {{"NAME": "{RECORDER}"}} to AUTH_PASSWORD_VALIDATORS; then set the '
                "passwords of users who submit from devices again",
                id="trellis_openrosa.W001",
            )
        )
    return found
