"""Tests that need a real server: run under CI, skip locally with the command to start it."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest


def in_ci() -> bool:
    """Whether the ``CI`` environment variable says this is a CI run."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_service(name: str, probe: Callable[[], object], *, how_to_start: str) -> None:
    """Make sure ``name`` answers ``probe()``; otherwise fail under CI, skip locally.

    :param probe: raises when the service cannot be reached.
    :param how_to_start: the command (or setting) that makes the service available, shown in
        the skip reason.
    """
    try:
        probe()
    except Exception as exc:
        message = f"{name} is not reachable ({type(exc).__name__}: {exc}); {how_to_start}"
        if in_ci():
            pytest.fail(f"CI requires {message}", pytrace=False)
        pytest.skip(message)
