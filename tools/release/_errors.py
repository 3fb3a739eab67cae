"""The one exception type of the release tooling."""

from __future__ import annotations


class ReleaseError(Exception):
    """A release step cannot go on: the message names the problem, the value seen and the fix.

    The CLI prints the message (no traceback) and exits with status 1.
    """
