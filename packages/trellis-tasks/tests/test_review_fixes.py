"""Findings of the outside-in review: each test failed before its fix."""

from __future__ import annotations

import logging
import types
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction
from django.test import override_settings
from django.utils import timezone

from trellis.core import Host, hookimpl, set_host
from trellis.core.testing import isolated_host
from trellis.tasks import (
    InvalidTaskName,
    Schedule,
    TaskArgumentsError,
    TaskMessage,
    eager,
    get_result,
    hookspecs,
    plugin,
    run_message,
    task,
)
from trellis.tasks._checks import check_settings
from trellis.tasks._json import check_json_kwargs
from trellis.tasks.models import TaskRecord
from trellis.tasks.testing import claimed, probes

pytestmark = pytest.mark.django_db(transaction=True)


def _broken_provider() -> types.ModuleType:
    module = types.ModuleType("broken_tasks_provider")
    module.TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}  # type: ignore[attr-defined]
    module.TRELLIS_PROVIDES = {"tasks": "broken"}  # type: ignore[attr-defined]
    module.TRELLIS_HOOKSPECS = [hookspecs]  # type: ignore[attr-defined]

    @hookimpl
    def tasks_enqueue(message: TaskMessage) -> str:
        raise ConnectionError("broker down")

    module.tasks_enqueue = tasks_enqueue  # type: ignore[attr-defined]
    return module


# -- 1. a failed send after commit never raises into the committing code ----------------------


def test_a_failed_send_after_commit_is_logged_kept_and_never_raised(
    tasks_host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    set_host(
        isolated_host(plugin, eager, probes, _broken_provider(), providers={"tasks": "broken"})
    )
    after: list[str] = []
    with caplog.at_level(logging.ERROR, logger="trellis.tasks"), transaction.atomic():
        plain = probes.record.enqueue(key="plain-lost")
        durable = probes.durable.enqueue(key="durable-later")
        transaction.on_commit(lambda: after.append("caller's own callback"))
    assert after == ["caller's own callback"]
    assert plain.id in caplog.text and "contract.record" in caplog.text
    assert "broker down" in caplog.text
    # The plain task is kept as a ready record too, so tasks_requeue sends it again.
    assert get_result(plain.id).status == "ready"
    assert get_result(durable.id).status == "ready"
    set_host(tasks_host)
    TaskRecord.objects.update(updated_at=timezone.now() - timedelta(hours=2))
    call_command("tasks_requeue", "--older-than=3600")
    assert claimed(["plain-lost", "durable-later"]) == {"plain-lost", "durable-later"}
    assert get_result(plain.id).status == "successful"


def test_a_plain_task_whose_record_cannot_be_written_either_is_logged_lost(
    tasks_host: Host, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_host(
        isolated_host(plugin, eager, probes, _broken_provider(), providers={"tasks": "broken"})
    )

    from django.db.models.query import QuerySet

    create = QuerySet.create

    def no_insert(self: QuerySet[object], **kwargs: object) -> object:
        if self.model is TaskRecord:
            raise DatabaseError("database gone too")
        return create(self, **kwargs)

    monkeypatch.setattr(QuerySet, "create", no_insert)
    with caplog.at_level(logging.ERROR, logger="trellis.tasks"), transaction.atomic():
        result = probes.record.enqueue(key="gone")
    assert "database gone too" in caplog.text and "lost" in caplog.text
    assert result.id in caplog.text


# -- 2. a task that kills its worker is not redelivered forever ----------------------------------


def _durable_record(task_id: str, key: str, attempts: int, state: str = "running") -> TaskMessage:
    now = timezone.now()
    TaskRecord.objects.create(
        id=task_id,
        name="contract.durable",
        kwargs={"key": key},
        queue="contract",
        state=state,
        attempts=attempts,
        enqueued_at=now,
        updated_at=now,
    )
    return TaskMessage(task_id, "contract.durable", "contract", {"key": key}, 0.0, durable=True)


def test_a_durable_task_whose_worker_died_too_often_is_failed_not_run(
    tasks_host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    # contract.durable has max_retries=1: two attempts; both started and never finished.
    message = _durable_record("d" * 32, "crash-loop", attempts=2)
    with caplog.at_level(logging.ERROR, logger="trellis.tasks"):
        outcome = run_message(message, "celery", attempt=0)
    assert outcome.kind == "failed"
    record = get_result("d" * 32)
    assert record.status == "failed" and record.attempts == 2
    assert "worker died 2 time(s) running it" in record.error
    assert "worker died" in caplog.text
    assert claimed(["crash-loop"]) == set()
    # One death within the limit is redelivered and runs.
    second = _durable_record("e" * 32, "one-death", attempts=1)
    assert run_message(second, "celery", attempt=0).kind == "successful"
    assert get_result("e" * 32).attempts == 2


# -- 3. async functions are refused --------------------------------------------------------------


def test_async_functions_are_refused_at_task_time() -> None:
    async def fetch(url: str) -> None:
        return None

    with pytest.raises(InvalidTaskName, match=r"'mail\.fetch'.*async def.*coroutine"):
        task(name="mail.fetch")(fetch)


# -- 4 and 8. strings PostgreSQL cannot store; circular and too deep arguments ------------------


@pytest.mark.parametrize(
    ("kwargs", "where", "what"),
    [
        ({"arg": "a\x00b"}, "argument 'arg'", "NUL"),
        ({"arg": "a\ud800b"}, "argument 'arg'", "surrogate"),
        ({"arg": {"x": ["ok", "a\x00"]}}, "at arg['x'][1]", "NUL"),
        ({"arg": {"k\ud800": 1}}, "at arg", "surrogate"),
        ({"arg": [{"k\x00": 1}]}, "at arg[0]", "NUL"),
    ],
)
def test_strings_postgresql_cannot_store_are_refused(
    kwargs: dict[str, object], where: str, what: str
) -> None:
    with pytest.raises(TaskArgumentsError, match=what) as caught:
        check_json_kwargs("t.x", kwargs)
    assert where in str(caught.value)


def test_circular_and_too_deep_arguments_are_refused() -> None:
    loop: dict[str, object] = {"a": 1}
    loop["self"] = loop
    with pytest.raises(TaskArgumentsError, match=r"argument 'arg' at arg\['self'\].*circular"):
        check_json_kwargs("t.x", {"arg": loop})
    shared = [1]
    check_json_kwargs("t.x", {"arg": [shared, shared]})  # shared, not circular: fine
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(TaskArgumentsError, match="nested"):
        check_json_kwargs("t.x", {"arg": deep})


# -- 5. eager runs chained enqueues one after another, not recursively ---------------------------

RAN: list[str] = []


@task(name="chain.step")
def step(n: int) -> None:
    RAN.append(f"step{n}")
    if n > 0:
        step.enqueue(n=n - 1)


@task(name="chain.fan")
def fan() -> None:
    RAN.append("fan")
    with transaction.atomic():
        leaf.enqueue(name="a", children=1)
        leaf.enqueue(name="b", children=0)
    RAN.append("fan done")


@task(name="chain.leaf")
def leaf(name: str, children: int) -> None:
    RAN.append(name)
    for n in range(children):
        leaf.enqueue(name=f"{name}{n}", children=0)


@pytest.fixture
def chain_host(tasks_host: Host) -> Iterator[Host]:
    module = types.ModuleType("chain_tasks")
    module.TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}  # type: ignore[attr-defined]

    @hookimpl
    def tasks_handlers() -> list[object]:
        return [step, fan, leaf]

    module.tasks_handlers = tasks_handlers  # type: ignore[attr-defined]
    host = isolated_host(plugin, eager, probes, module, providers={"tasks": "eager"})
    set_host(host)
    RAN.clear()
    yield host
    set_host(tasks_host)


def test_eager_runs_a_400_deep_chain_without_recursion(chain_host: Host) -> None:
    with transaction.atomic():
        step.enqueue(n=400)
    assert [f"step{n}" for n in range(400, -1, -1)] == RAN


def test_eager_runs_enqueues_of_a_running_task_after_it_in_order(chain_host: Host) -> None:
    fan.enqueue()
    assert RAN == ["fan", "fan done", "a", "b", "a0"]


# -- 6. bad settings show in the system checks ----------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("TRELLIS_TASKS_REQUEUE_AFTER", "abc"),
        ("TRELLIS_TASKS_HEARTBEAT_MAX_AGE", "abc"),
        ("TRELLIS_TASKS_HEARTBEAT_MAX_AGE", 0),
    ],
)
def test_bad_seconds_settings_fail_the_check(tasks_host: Host, setting: str, value: object) -> None:
    with override_settings(**{setting: value}):
        [error] = check_settings()
    assert error.id == "trellis_tasks.E004"
    assert setting in error.msg and repr(value) in error.msg


@override_settings(TRELLIS_TASKS_REQUEUE_AFTER="abc")
def test_tasks_requeue_with_a_bad_setting_is_a_command_error(tasks_host: Host) -> None:
    with pytest.raises(CommandError, match=r"TRELLIS_TASKS_REQUEUE_AFTER.*'abc'"):
        call_command("tasks_requeue")


# -- 7. crontab fields are range-checked ----------------------------------------------------------

job = task(name="mail.digest")(lambda user_id=0: None)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ("99 99 99 99 99", "minute"),
        ("0 24 * * *", "hour"),
        ("0 3 0 * *", "day"),
        ("0 3 32 * *", "day"),
        ("0 3 * 13 *", "month"),
        ("0 3 * * 7", "weekday"),
        ("*/0 * * * *", "minute"),
        ("x * * * *", "minute"),
        ("1-2-3 * * * *", "minute"),
        ("1,,2 * * * *", "minute"),
        ("5/10 * * * *", "minute"),
        ("* * * * funday", "weekday"),
    ],
)
def test_out_of_range_crontab_fields_are_refused(spec: str, field: str) -> None:
    with pytest.raises(InvalidTaskName, match=rf"schedule 'mail\.digest'.*{field}"):
        Schedule("mail.digest", job, crontab=spec)


@pytest.mark.parametrize(
    "spec",
    ["0 3 * * *", "*/15 0-23 1,15 */2 1-5", "59 23 31 12 6", "0 0 1 1 0", "0 9 * * mon-fri"],
)
def test_valid_crontabs_pass(spec: str) -> None:
    Schedule("mail.digest", job, crontab=spec)


# -- 10. nits ------------------------------------------------------------------------------------


def test_eager_logs_that_it_retries_at_once(
    tasks_host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="trellis.tasks"):
        probes.flaky.enqueue(key="retry-log", failures=1)
    assert claimed(["retry-log"]) == {"retry-log"}
    assert "retrying now" in caplog.text and "retrying in" not in caplog.text


def test_an_empty_task_name_is_invalid() -> None:
    with pytest.raises(InvalidTaskName, match="''"):
        task(name="")(lambda: None)
