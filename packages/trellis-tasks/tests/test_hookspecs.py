"""One test per hook of the ``tasks`` contract, through a real host."""

from __future__ import annotations

from datetime import timedelta

import pytest

from trellis.core import Host
from trellis.tasks import Schedule, Task, TaskMessage, celery, eager, hookspecs, plugin
from trellis.tasks.testing import claimed, probes


def test_contract_and_hook_kinds(tasks_host: Host) -> None:
    assert hookspecs.CONTRACT.name == "tasks"
    assert hookspecs.CONTRACT.version == "1.0.0"
    assert hookspecs.CONTRACT.default_provider == "eager"
    kinds = {h.name: h.kind for h in tasks_host.hooks() if h.contract == "tasks"}
    assert kinds == {
        "tasks_handlers": "extension",
        "tasks_schedules": "extension",
        "tasks_enqueue": "provider",
        "tasks_run_worker": "provider",
    }
    assert set(tasks_host.providers("tasks")) == {"eager"}


def test_hook_tasks_handlers(tasks_host: Host) -> None:
    found = [t for tasks in tasks_host.collect("tasks_handlers") for t in tasks]
    assert all(isinstance(t, Task) for t in found)
    assert {t.name for t in found} >= {"tasks.requeue", "contract.record", "contract.flaky"}


def test_hook_tasks_schedules(tasks_host: Host) -> None:
    found = [s for items in tasks_host.collect("tasks_schedules") for s in items]
    assert found == [Schedule("tasks.requeue", plugin.requeue, every=timedelta(minutes=10))]


@pytest.mark.django_db(transaction=True)
def test_hook_tasks_enqueue(tasks_host: Host) -> None:
    message = TaskMessage("a" * 32, "contract.record", "contract", {"key": "hook-enqueue"}, 0.0)
    assert tasks_host.call("tasks_enqueue", message=message) == "a" * 32
    assert claimed(["hook-enqueue"]) == {"hook-enqueue"}


def test_hook_tasks_run_worker(tasks_host: Host, capsys: pytest.CaptureFixture[str]) -> None:
    assert tasks_host.call("tasks_run_worker", queues=["contract"], concurrency=1, beat=False) == 0
    assert "no worker to start" in capsys.readouterr().out


def test_celery_provider_loads_without_importing_celery() -> None:
    import sys

    assert celery.TRELLIS_PROVIDES == {"tasks": "celery"}
    assert eager.TRELLIS_PROVIDES == {"tasks": "eager"}
    assert "celery" not in sys.modules or "trellis.tasks._celery_app" in sys.modules
    assert probes.record.queue == "contract"
