"""The ``openrosa`` plugin: the app, the OpenRosa URLs, and recording Digest credentials.

Registered as entry point ``openrosa``. It extends trellis-forms (its submissions are forms
submissions, so they feed the same cases, events and reports) and stores files in
trellis-blobs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from trellis.core import UrlMount, hookimpl

TRELLIS_IMPLEMENTS = {"core": ">=1.2,<2"}


@hookimpl
def core_django_apps() -> Sequence[str]:
    return ["trellis.openrosa"]


@hookimpl
def core_url_mounts() -> Sequence[UrlMount]:
    return [UrlMount("a/", "trellis.openrosa.urls", "openrosa", api=True)]


@hookimpl
def core_settings_defaults() -> Mapping[str, object]:
    # Only when the project sets no validators of its own (a default never overrides):
    # otherwise `manage.py check` says to add the recorder (trellis_openrosa.W001).
    return {"AUTH_PASSWORD_VALIDATORS": [{"NAME": "trellis.openrosa.auth.DigestPasswordRecorder"}]}
