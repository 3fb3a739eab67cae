"""Fixtures of trellis-tasks' tests: a host with the tasks plugins and the probes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trellis.core import Host, set_host
from trellis.core import _global as core_global
from trellis.core.testing import isolated_host
from trellis.tasks import _runner, eager, plugin
from trellis.tasks.testing import probes


@pytest.fixture
def tasks_host() -> Iterator[Host]:
    """The process-wide host for one test: tasks, eager, the probes (no entry points)."""
    _runner._beats.clear()  # beats are throttled per process; each test's tables start empty
    host = isolated_host(plugin, eager, probes, providers={"tasks": "eager"})
    previous = core_global._host
    set_host(host)
    try:
        yield host
    finally:
        set_host(previous)
