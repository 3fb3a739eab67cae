"""Settings of the composed service: Django's own apps, then whatever plugins are installed.

Everything deployment-specific comes from the environment (see ``profile_settings``):
``TRELLIS_PROFILE``, ``DATABASE_URL``, ``DJANGO_SECRET_KEY``, ``DJANGO_ALLOWED_HOSTS``,
``TRELLIS_DATA_DIR`` (default ``./var``) and the ``TRELLIS_*`` plugin settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from trellis.core.django import compose, profile_settings

DATA_DIR = Path(os.environ.get("TRELLIS_DATA_DIR") or Path.cwd() / "var").resolve()
TRELLIS_DATA_DIR = str(DATA_DIR)  # where plugins keep local data (e.g. blobs on the filesystem)
globals().update(profile_settings(data_dir=DATA_DIR))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "hq",  # its management commands: hq_demo
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
LOGIN_URL = "admin:login"  # the dashboard sends anonymous visitors here
ROOT_URLCONF = "hq.urls"
WSGI_APPLICATION = "hq.wsgi.application"
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
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LOGGING = {  # trellis.* at INFO on stderr: remote calls are logged with their request id
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "trellis": {
            "handlers": ["console"],
            "level": os.environ.get("TRELLIS_LOG_LEVEL", "INFO"),
        }
    },
}
TRELLIS: dict[str, object] = {}

compose(globals())
