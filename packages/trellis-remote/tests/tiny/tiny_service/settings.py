"""A tiny service serving the ``greet`` contract through trellis-remote."""

from __future__ import annotations

import os
from pathlib import Path

from tiny_contract import provider

from trellis.core.django import compose, profile_settings

DATA_DIR = Path(os.environ["TRELLIS_DATA_DIR"])
globals().update(profile_settings(data_dir=DATA_DIR))
INSTALLED_APPS = [
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
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
ROOT_URLCONF = "tiny_service.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
USE_TZ = True
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"trellis": {"handlers": ["console"], "level": "INFO"}},
}
TRELLIS_REMOTE_SERVE = "greet"
TRELLIS_REMOTE_NAME = "tiny"
compose(globals(), plugins=[provider])
