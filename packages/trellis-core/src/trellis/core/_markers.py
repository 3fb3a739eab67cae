"""The pluggy project, its markers and the entry-point group every Trellis plugin uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pluggy

_F = TypeVar("_F", bound=Callable[..., object])

PROJECT_NAME = "trellis"
"""The pluggy project name: markers carry ``trellis_spec`` / ``trellis_impl`` options."""

ENTRY_POINT_GROUP = "trellis"
"""Installed distributions register plugin modules under this entry-point group."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marks a function in a ``hookspecs`` module as a hook specification."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a function in a plugin module as a hook implementation."""

REMOTE_ATTRIBUTE = f"{PROJECT_NAME}_remote"


def remotable(*, safe: bool = False) -> Callable[[_F], _F]:
    """Mark a provider hookspec as one trellis-remote may serve over HTTP.

    Its arguments and result must be what trellis-remote carries (JSON values, datetimes,
    dataclasses of those, ``BinaryIO`` streamed as the body, ``Iterator`` streamed as lines).

    :param safe: calling the hook twice has the same effect as calling it once (a read), so a
        client may retry it after a failure; writes are never retried.
    """

    def mark(function: _F) -> _F:
        setattr(function, REMOTE_ATTRIBUTE, {"safe": bool(safe)})
        return function

    return mark


def remote_options(function: object) -> dict[str, bool] | None:
    """The options :func:`remotable` gave a hookspec, or ``None`` when it is not remotable."""
    options = getattr(function, REMOTE_ATTRIBUTE, None)
    return dict(options) if isinstance(options, dict) else None
