"""The ``remote`` plugin: mounts the service side at ``remote/`` and checks its settings.

Registered as entry point ``remote``. The mount answers nothing until the project names the
contracts it serves (``TRELLIS_REMOTE_SERVE``) and a secret (``TRELLIS_REMOTE_SECRET``). The
client providers are separate plugins (``blobs-remote``).
"""

from __future__ import annotations

from collections.abc import Sequence

from trellis.core import UrlMount, hookimpl

TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2"}


@hookimpl
def core_django_apps() -> Sequence[str]:
    return ["trellis.remote"]


@hookimpl
def core_url_mounts() -> Sequence[UrlMount]:
    return [UrlMount("remote/", "trellis.remote.urls", "remote", api=True)]
