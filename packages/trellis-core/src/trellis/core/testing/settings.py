"""Django settings for testing Trellis packages: a minimal project composed from what is installed.

Point pytest-django at it (``DJANGO_SETTINGS_MODULE = "trellis.core.testing.settings"``) and
every installed plugin's apps, middleware, defaults and URL mounts are present, as in hq, on an
SQLite database pytest-django creates for the run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from trellis.core.django import compose

# Removed when the process exits (TemporaryDirectory's finalizer runs at exit), so test runs
# and the subprocesses they start leave no trellis-test-* directories behind.
_data_dir = tempfile.TemporaryDirectory(prefix="trellis-test-", ignore_cleanup_errors=True)
DATA_DIR = Path(_data_dir.name)
SECRET_KEY = "trellis-tests-only"  # noqa: S105 - test settings
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
DATABASES = {  # what database_from_env gives the embedded profile: WAL, IMMEDIATE transactions
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "db.sqlite3"),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        },
    }
}
LOGIN_URL = "admin:login"  # the dashboard sends anonymous visitors here
ROOT_URLCONF = "trellis.core.testing._urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "static/"  # as startproject sets it; pytest-django's live_server needs one
USE_TZ = True
TRELLIS_DATA_DIR = str(DATA_DIR)
TRELLIS: dict[str, object] = {}

compose(globals())
