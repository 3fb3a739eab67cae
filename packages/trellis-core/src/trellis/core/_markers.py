"""The pluggy project, its markers and the entry-point group every Trellis plugin uses."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "trellis"
"""The pluggy project name: markers carry ``trellis_spec`` / ``trellis_impl`` options."""

ENTRY_POINT_GROUP = "trellis"
"""Installed distributions register plugin modules under this entry-point group."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marks a function in a ``hookspecs`` module as a hook specification."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a function in a plugin module as a hook implementation."""
