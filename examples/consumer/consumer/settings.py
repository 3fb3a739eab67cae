"""Settings of the consumer: a plain Django project that uses trellis-blobs.

Nothing here says how trellis-blobs was installed or where its content lives: that comes
from the environment (``TRELLIS_DATA_DIR``, ``TRELLIS_BLOBS_PROVIDER`` and the provider's own
settings), so the same files run against every stage of ``nox -s path``.
"""

from __future__ import annotations

import os
from pathlib import Path

from trellis.core.django import compose

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TRELLIS_DATA_DIR") or BASE_DIR / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
TRELLIS_DATA_DIR = str(DATA_DIR)  # the filesystem provider keeps content under <it>/blobs

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "consumer-example-not-for-production")
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "consumer.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
# Two processes writing at once (a web worker and a command) need both options, or the second
# gets "database is locked" (see shared-docs/blobs-providers.md, "SQLite").
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "db.sqlite3",
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

compose(globals())  # last: adds what the installed Trellis plugins contribute
