"""Django settings of the tasks benchmark's processes (producer and celery worker).

SQLite as the embedded profile builds it (WAL, IMMEDIATE) in ``BENCH_TASKS_DIR``; the provider
and broker come from ``TRELLIS_TASKS_PROVIDER`` / ``TRELLIS_TASKS_BROKER_URL``.
"""

from __future__ import annotations

import os

from bench.areas import _tasks_plugin
from trellis.core.django import compose

SECRET_KEY = "trellis-bench-only"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(os.environ["BENCH_TASKS_DIR"], "db.sqlite3"),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        },
    }
}
TRELLIS: dict[str, object] = {"ALLOW": ["tasks", "tasks-eager", "tasks-celery", "_tasks_plugin"]}

compose(globals(), plugins=[_tasks_plugin])
