"""The tasks plugin's health check and dashboard panel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from trellis.core import Host
from trellis.tasks import plugin
from trellis.tasks.models import QueueHeartbeat, TaskRecord
from trellis.tasks.testing import probes

pytestmark = pytest.mark.django_db(transaction=True)


def _pending(queue: str, age: timedelta) -> None:
    then = timezone.now() - age
    TaskRecord.objects.create(
        id=f"{queue[:4]}{'0' * 28}",
        name="contract.durable",
        kwargs={},
        queue=queue,
        enqueued_at=then,
        updated_at=then,
    )


@override_settings(TRELLIS_TASKS_HEARTBEAT_MAX_AGE=60)
def test_heartbeat_warns_about_a_queue_with_old_work_and_no_worker(tasks_host: Host) -> None:
    assert plugin.heartbeat_check().status == "ok"
    _pending("contract", timedelta(minutes=5))
    result = plugin.heartbeat_check()
    assert result.status == "warn"
    assert "contract (1 pending, never picked up)" in result.message
    # Work never sent (the broker was down at commit) needs a requeue, not only a worker.
    assert "tasks_worker" in result.message and "tasks_requeue" in result.message
    QueueHeartbeat.objects.create(
        queue="contract", provider="eager", picked_at=timezone.now() - timedelta(minutes=3)
    )
    assert "last picked up 180 s ago" in plugin.heartbeat_check().message
    QueueHeartbeat.objects.filter(queue="contract").update(picked_at=timezone.now())
    assert plugin.heartbeat_check().status == "ok"  # a worker is on it


def test_dashboard_panel_rows(tasks_host: Host) -> None:
    [panel] = plugin.core_dashboard_panels()
    assert panel.title == "Task queues"
    assert list(panel.columns) == [
        "Queue",
        "Provider",
        "Last picked up",
        "Age",
        "Pending durable",
        "Failed durable",
    ]
    probes.durable.enqueue(key="x", fail=True)
    rows = {row[0]: row for row in panel.rows()}
    assert set(rows) >= {"contract", "tasks"}
    assert rows["contract"][1] == "eager"
    assert rows["contract"][3].endswith(" s") and rows["contract"][5] == 1
    assert rows["tasks"][2:] == ["never", "never", 0, 0]
