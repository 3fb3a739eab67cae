"""Django settings shared by the celery suite's pytest process and its workers.

PostgreSQL (``TASKS_TEST_DATABASE_URL``: every process sees the others' commits), the celery
provider on ``TASKS_TEST_BROKER_URL``, and the probe and fault plugins registered in code.
A Redis visibility timeout of 10 s so a killed worker's task comes back within a test.
"""

from __future__ import annotations

import os

import dj_database_url
import tasks_fault_plugin

from trellis.core.django import compose
from trellis.tasks.testing import probes

SECRET_KEY = "trellis-tasks-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]
DATABASES = {"default": dj_database_url.parse(os.environ["TASKS_TEST_DATABASE_URL"])}
# pytest-django creates test_<name>; a worker is handed that name directly.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TASKS_TEST_TEST_DATABASE")}
TRELLIS_TASKS_PROVIDER = "celery"
TRELLIS_TASKS_BROKER_URL = os.environ["TASKS_TEST_BROKER_URL"]
TRELLIS_TASKS_VISIBILITY_TIMEOUT = 10
TRELLIS_TASKS_BROKER_TRANSPORT_OPTIONS = {
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    # Every Redis key of this run under its own prefix: two runs never take each other's tasks.
    "global_keyprefix": os.environ.get("TASKS_TEST_KEY_PREFIX", ""),
}
TRELLIS_TASKS_HEARTBEAT_MAX_AGE = 5
TRELLIS: dict[str, object] = {
    "ALLOW": ["tasks", "tasks-celery", "tasks-eager", "_probes", "tasks_fault_plugin"]
}

compose(globals(), plugins=[probes, tasks_fault_plugin])
