"""trellis-remote: serve a contract's provider over HTTP, and call it from another process.

A contract opts in by marking provider hooks :func:`trellis.core.remotable`. The service side
(the ``remote`` plugin) serves the selected provider of the contracts named in
``TRELLIS_REMOTE_SERVE`` at ``/remote/``; the client side is a provider named ``remote``
(``TRELLIS_BLOBS_PROVIDER=remote`` with ``TRELLIS_REMOTE_BLOBS_URL`` and ``_SECRET``) that
answers the same hooks by calling it. See ``shared-docs/remote.md``.
"""

from __future__ import annotations

from ._errors import (
    CannotCarry,
    IncompatibleContract,
    RemoteError,
    RemoteRefused,
    RemoteTimeout,
    RemoteUnavailable,
    WireError,
)
from ._provider import RemoteProvider, client_provider
from ._version import __version__

__all__ = [
    "CannotCarry",
    "IncompatibleContract",
    "RemoteError",
    "RemoteProvider",
    "RemoteRefused",
    "RemoteTimeout",
    "RemoteUnavailable",
    "WireError",
    "__version__",
    "client_provider",
]
