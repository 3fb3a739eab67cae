"""How the celery provider configures Celery, checked without a broker."""

from __future__ import annotations

import types
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import override_settings

from trellis.core import ConfigurationError, Host, hookimpl, set_host
from trellis.core import _global as core_global
from trellis.core.testing import isolated_host
from trellis.tasks import Schedule, celery, eager, plugin, task
from trellis.tasks._celery_app import celery_config, get_app
from trellis.tasks._checks import check_settings
from trellis.tasks.testing import probes

pytest.importorskip("celery")

nightly = task(name="shop.nightly")(lambda region="all": None)


def _shop() -> types.ModuleType:
    module = types.ModuleType("shop_tasks")
    module.TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}  # type: ignore[attr-defined]

    @hookimpl
    def tasks_schedules() -> list[Schedule]:
        return [Schedule("shop.nightly", nightly, crontab="30 2 * * 1-5", kwargs={"region": "eu"})]

    module.tasks_schedules = tasks_schedules  # type: ignore[attr-defined]
    return module


@pytest.fixture
def celery_host() -> Iterator[Host]:
    host = isolated_host(plugin, eager, celery, probes, _shop(), providers={"tasks": "celery"})
    previous = core_global._host
    set_host(host)
    try:
        yield host
    finally:
        set_host(previous)


@override_settings(
    TRELLIS_TASKS_BROKER_URL="redis://127.0.0.1:6379/9", TRELLIS_TASKS_VISIBILITY_TIMEOUT=42
)
def test_app_settings_and_task_options(celery_host: Host) -> None:
    config = celery_config()
    assert config["accept_content"] == ["json"] and config["task_serializer"] == "json"
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    assert config["broker_transport_options"]["visibility_timeout"] == 42
    assert config["broker_transport_options"]["socket_timeout"] == 10.0
    app = get_app()
    registered = app.tasks["contract.flaky"]
    # Redelivery after a lost worker needs these as options of the task itself.
    assert registered.acks_late is True
    assert registered.reject_on_worker_lost is True
    assert registered.max_retries == 3
    beat = app.conf.beat_schedule
    assert beat["tasks.requeue"]["schedule"] == timedelta(minutes=10)
    assert beat["tasks.requeue"]["options"] == {"queue": "tasks"}
    nightly_entry = beat["shop.nightly"]
    assert nightly_entry["kwargs"] == {"region": "eu"}
    assert nightly_entry["schedule"].hour == {2} and nightly_entry["schedule"].minute == {30}
    assert nightly_entry["schedule"].day_of_week == {1, 2, 3, 4, 5}


@override_settings(TRELLIS_TASKS_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//")
def test_amqp_gets_no_redis_transport_options(celery_host: Host) -> None:
    assert celery_config()["broker_transport_options"] == {}


@pytest.mark.parametrize(
    ("url", "message"),
    [(None, "is not set"), ("http://broker", "scheme 'http'"), ("kafka://x", "'kafka'")],
)
def test_broker_url_errors_name_the_setting(
    celery_host: Host, url: str | None, message: str
) -> None:
    with override_settings(TRELLIS_TASKS_BROKER_URL=url):
        with pytest.raises(ConfigurationError, match=message):
            celery_config()
        [error] = check_settings()
        assert error.id == "trellis_tasks.E002"
        assert "TRELLIS_TASKS_BROKER_URL" in error.msg


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("TRELLIS_TASKS_BROKER_TRANSPORT_OPTIONS", "{bad", "must be a JSON object"),
        ("TRELLIS_TASKS_BROKER_TRANSPORT_OPTIONS", "[1]", "must be a JSON object"),
        ("TRELLIS_TASKS_BROKER_TRANSPORT_OPTIONS", 5, "must be a JSON object"),
        ("TRELLIS_TASKS_VISIBILITY_TIMEOUT", "abc", "'abc'"),
        ("TRELLIS_TASKS_VISIBILITY_TIMEOUT", -5, "-5"),
        ("TRELLIS_TASKS_VISIBILITY_TIMEOUT", 0, "found 0"),
    ],
)
def test_bad_broker_settings_fail_the_check(
    celery_host: Host, setting: str, value: object, message: str
) -> None:
    with override_settings(TRELLIS_TASKS_BROKER_URL="redis://127.0.0.1:6379/9", **{setting: value}):
        [error] = check_settings()
    assert error.id == "trellis_tasks.E002"
    assert setting in error.msg and message in error.msg


@override_settings(
    TRELLIS_TASKS_BROKER_URL="redis://127.0.0.1:6379/9",
    TRELLIS_TASKS_VISIBILITY_TIMEOUT=42,
    TRELLIS_TASKS_BROKER_TRANSPORT_OPTIONS={"visibility_timeout": 7},
)
def test_transport_options_win_over_the_visibility_timeout_setting(celery_host: Host) -> None:
    assert celery_config()["broker_transport_options"]["visibility_timeout"] == 7
