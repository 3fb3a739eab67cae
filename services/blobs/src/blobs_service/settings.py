"""Settings of the blobs service: Django's own apps, then trellis-core, -blobs and -remote.

Everything deployment-specific comes from the environment, as for hq: ``TRELLIS_PROFILE``,
``DATABASE_URL``, ``DJANGO_SECRET_KEY``, ``DJANGO_ALLOWED_HOSTS``, ``TRELLIS_DATA_DIR``
(default ``./var/blobs-service``), ``TRELLIS_BLOBS_PROVIDER`` (``filesystem`` or ``s3``)
and its settings, ``TRELLIS_REMOTE_SECRET`` (required: callers sign with it) and
``TRELLIS_CACHE_URL`` (``redis://...``; default: a table in the service's database), the
cache every worker shares (deep health check results). The nonces that stop a replayed call
are kept in trellis-remote's ``SeenNonce`` table.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from trellis.core.django import compose, profile_settings

DATA_DIR = Path(
    os.environ.get("TRELLIS_DATA_DIR") or Path.cwd() / "var" / "blobs-service"
).resolve()
TRELLIS_DATA_DIR = str(DATA_DIR)
globals().update(profile_settings(data_dir=DATA_DIR))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "blobs_service",
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
_cache_url = os.environ.get("TRELLIS_CACHE_URL", "").strip()
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
        if _cache_url
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "trellis_cache",
        }
    )
}
LOGIN_URL = "admin:login"
ROOT_URLCONF = "blobs_service.urls"
WSGI_APPLICATION = "blobs_service.wsgi.application"
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

# What this service is: the blobs contract, served to callers that sign with the secret.
TRELLIS_REMOTE_SERVE = os.environ.get("TRELLIS_REMOTE_SERVE", "blobs")
TRELLIS_REMOTE_NAME = os.environ.get("TRELLIS_REMOTE_NAME", "blobs")
if (
    globals()["TRELLIS_PROFILE"] == "production"
    and not os.environ.get("TRELLIS_REMOTE_SECRET", "").strip()
):
    raise ImproperlyConfigured(
        "TRELLIS_REMOTE_SECRET is not set: the production profile refuses to serve blobs "
        "without a shared secret (at least 32 characters; callers sign every call with it)"
    )
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
