"""A second, tiny contract (``greet``) that proves trellis-remote is not blobs-only."""

from __future__ import annotations

from trellis.core import TrellisError

__all__ = ["GreetRefused"]


class GreetRefused(TrellisError):
    """The greeter refuses a name (a typed error that must cross the wire as itself)."""
