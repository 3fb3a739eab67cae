"""The contract suite against the eager provider, plus what only eager promises."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from trellis.tasks import eager, plugin
from trellis.tasks.testing import TasksContract, claimed, probes


class TestEager(TasksContract):
    provider = "eager"
    timeout = 2.0

    def test_runs_before_atomic_returns(self) -> None:
        key = self.key()
        with transaction.atomic():
            probes.record.enqueue(key=key)
        assert claimed([key]) == {key}  # no waiting: in-process, in the commit

    def test_task_errors_are_logged_not_raised(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.ERROR, logger="trellis.tasks"), transaction.atomic():
            result = probes.durable.enqueue(key=self.key(), fail=True)
        assert "failed after 2 attempt(s)" in caplog.text
        assert result.refresh().status == "failed"


def test_eager_worker_command_says_there_is_no_worker(capsys: pytest.CaptureFixture[str]) -> None:
    assert eager.tasks_run_worker(queues=[], concurrency=None, beat=False) == 0
    assert "there is no worker to start" in capsys.readouterr().out


def test_plugin_modules_load() -> None:
    assert plugin.TRELLIS_IMPLEMENTS["tasks"] == ">=1.0,<2"
