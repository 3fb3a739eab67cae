"""The one exception type of ``python -m tools.path``."""

from __future__ import annotations


class PathError(Exception):
    """A step of the path cannot go on: the message names what, the value seen and the fix.

    The CLI prints the message (no traceback) and exits with status 1.
    """


class StageNotRunnable(PathError):
    """A stage's prerequisites are missing (a package not in the commit): it was not run."""
