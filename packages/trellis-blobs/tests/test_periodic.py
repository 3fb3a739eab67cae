"""``blobs-tasks``: blob maintenance as periodic tasks, only when trellis-tasks is there."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from trellis import blobs
from trellis.blobs import filesystem, periodic, plugin
from trellis.core import Host, set_host
from trellis.core import _global as core_global
from trellis.core.testing import clean_environ, isolated_host


def _with_tasks(tasks_plugin: object, eager: object) -> Host:
    """blobs first, then trellis-tasks (the optional hooks wait for their contract)."""
    host = isolated_host(plugin, filesystem, periodic)
    host.register(tasks_plugin, "tasks")
    host.register(eager, "tasks-eager")
    return host


def test_without_trellis_tasks_the_plugin_loads_and_contributes_nothing() -> None:
    host = isolated_host(plugin, filesystem, periodic)
    record = next(r for r in host.plugins() if r.name == "periodic")
    assert record.status == "active", record.reason
    assert host.problems() == []  # what `trellis check` fails on
    assert not host.has_hook("tasks_schedules")


def test_importing_blobs_imports_nothing_of_trellis_tasks() -> None:
    code = (
        "import sys, trellis.blobs, trellis.blobs.periodic, trellis.blobs.plugin;"
        "print(sorted(m for m in sys.modules if m.startswith('trellis.tasks')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_environ(),
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_with_trellis_tasks_the_schedules_are_contributed() -> None:
    tasks_plugin = pytest.importorskip("trellis.tasks.plugin")
    from trellis.tasks import all_tasks, eager

    host = _with_tasks(tasks_plugin, eager)
    assert all(r.status == "active" for r in host.plugins()), host.plugins()
    schedules = {s.name: s for items in host.collect("tasks_schedules") for s in items}
    assert schedules["blobs.expire"].every == periodic.EXPIRE_EVERY
    assert schedules["blobs.reap"].task.name == "blobs.reap"
    found = all_tasks(host)
    assert found["blobs.expire"].queue == "blobs" and found["blobs.reap"].queue == "blobs"


@pytest.mark.django_db(transaction=True)
def test_the_expire_task_deletes_expired_blobs() -> None:
    tasks_plugin = pytest.importorskip("trellis.tasks.plugin")
    from trellis.tasks import eager, enqueue

    host = _with_tasks(tasks_plugin, eager)
    previous = core_global._host
    set_host(host)
    try:
        gone = blobs.put(b"old", domain="d", parent_id="p", type_code=1)
        kept = blobs.put(b"new", domain="d", parent_id="p", type_code=1)
        blobs.set_expiry(gone.key, timedelta(seconds=-1))
        enqueue("blobs.expire")  # eager: runs now, outside a transaction
        assert not blobs.exists(gone.key)
        assert blobs.exists(kept.key)
        assert periodic.tasks()["reap"](older_than=0, dry_run=True) == 0
    finally:
        set_host(previous)
