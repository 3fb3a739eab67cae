"""Settings of the hand-wired baseline (see the package docstring)."""

from __future__ import annotations

import os

import dj_database_url

SECRET_KEY = "trellis-bench-baseline-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "bench.areas._forms_baseline.urls"
WSGI_APPLICATION = "bench.areas._forms_baseline.wsgi.application"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "bench.areas._forms_baseline",
]
# Django's startproject middleware (minus messages/admin-only pieces the project lacks).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
_db = dict(
    dj_database_url.parse(
        os.environ["BENCH_BASE_DATABASE_URL"], conn_max_age=600, conn_health_checks=True
    )
)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Exactly what trellis-core's embedded profile sets.
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DATABASES = {"default": _db}
