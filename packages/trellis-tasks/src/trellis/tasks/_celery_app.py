"""The Celery app behind the ``celery`` provider, built from settings once per process."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trellis.core import read_setting

from ._registry import all_schedules, all_tasks
from ._registry import queues as all_queues
from ._runner import run_message
from ._settings import broker_transport_options, broker_url, visibility_timeout
from ._types import TaskMessage

if TYPE_CHECKING:
    from celery import Celery  # type: ignore[import-untyped, unused-ignore]

NETWORK_TIMEOUT = 10.0
"""Seconds for every broker connect, read and publish (a dead broker fails, never hangs)."""

_lock = threading.Lock()
_apps: dict[tuple[object, ...], Celery] = {}


def transport_options(url: str) -> dict[str, Any]:
    """Broker transport options: visibility timeout and socket timeouts for Redis, then
    ``TRELLIS_TASKS_BROKER_TRANSPORT_OPTIONS`` (a dict, or JSON in the environment), which
    wins where both set an option."""
    options: dict[str, Any] = {}
    if url.startswith(("redis://", "rediss://")):
        options = {
            "visibility_timeout": visibility_timeout(),
            "socket_timeout": NETWORK_TIMEOUT,
            "socket_connect_timeout": NETWORK_TIMEOUT,
        }
    # The explicit options win, visibility_timeout included (documented in the README).
    options.update(broker_transport_options())
    return options


def celery_config() -> dict[str, Any]:
    """The Celery settings the provider uses (also for the ADR and tests)."""
    url = broker_url()
    return {
        "broker_url": url,
        "broker_transport_options": transport_options(url),
        "broker_connection_timeout": NETWORK_TIMEOUT,
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": "default",
        "task_create_missing_queues": True,
        "timezone": "UTC",
        "enable_utc": True,
        "worker_hijack_root_logger": False,
        "broker_channel_error_retry": True,
    }


def get_app() -> Celery:
    """The process's Celery app for the current settings and contributed tasks."""
    from celery import Celery  # type: ignore[import-untyped, unused-ignore]

    config = celery_config()
    tasks = all_tasks()
    key = (json.dumps(config, sort_keys=True, default=str), tuple(sorted(tasks)))
    with _lock:
        app = _apps.get(key)
        if app is None:
            app = Celery("trellis", set_as_current=False)
            app.conf.update(config)
            for name, task in tasks.items():
                app.task(
                    name=name,
                    bind=True,
                    acks_late=True,
                    reject_on_worker_lost=True,
                    max_retries=task.max_retries,
                    ignore_result=True,
                    serializer="json",
                )(_runner(name))
            app.conf.beat_schedule = _beat_schedule()
            _apps[key] = app
        return app


def _runner(name: str) -> Any:
    def run(self: Any, envelope: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if envelope is None:  # sent by beat: arguments as plain kwargs
            queue = (self.request.delivery_info or {}).get("routing_key") or "default"
            message = TaskMessage(self.request.id, name, queue, kwargs, 0.0)
        else:
            message = TaskMessage.from_json(envelope)
        outcome = run_message(message, "celery", attempt=self.request.retries)
        if outcome.kind == "retry":
            raise self.retry(exc=outcome.error, countdown=outcome.retry_in)

    run.__name__ = run.__qualname__ = name.replace(".", "_")
    return run


def _beat_schedule() -> dict[str, dict[str, Any]]:
    from celery.schedules import crontab  # type: ignore[import-untyped, unused-ignore]

    schedule: dict[str, dict[str, Any]] = {}
    for _, item in all_schedules():
        if item.crontab is not None:
            minute, hour, day, month, weekday = item.crontab.split()
            when: Any = crontab(minute, hour, weekday, day, month)
        else:
            when = item.every
        schedule[item.name] = {
            "task": item.task.name,
            "schedule": when,
            "kwargs": dict(item.kwargs),
            "options": {"queue": item.task.queue},
        }
    return schedule


def send(message: TaskMessage) -> str:
    """Publish ``message`` to its queue; raises when the broker cannot take it."""
    app = get_app()
    app.send_task(
        message.name,
        args=[message.as_json()],
        queue=message.queue,
        task_id=message.id,
        retry=True,
        # Socket timeouts (transport options) bound each attempt; this bounds the retries.
        retry_policy={
            "max_retries": 3,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 2,
        },
    )
    return message.id


def run_worker(queues: Sequence[str], concurrency: int | None, beat: bool) -> int:
    """``celery worker`` for ``queues`` (all when empty) in this process; returns its status."""
    app = get_app()
    argv = [
        "worker",
        f"--queues={','.join(queues or all_queues())}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        f"--hostname=trellis-{os.getpid()}@%h",
    ]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if beat:
        data_dir = read_setting("TRELLIS_DATA_DIR") or tempfile.gettempdir()
        argv += ["--beat", f"--schedule={os.path.join(str(data_dir), 'celerybeat-schedule')}"]
    app.worker_main(argv)
    return 0
