"""Deployment profiles: the embedded default for one machine, and production."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

EMBEDDED_SECRET_KEY = "trellis-embedded-profile-not-secret"  # noqa: S105 - refused in production
PROFILES = ("embedded", "production")
_HEADER_NAME = re.compile(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*")


def profile_settings(*, data_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings that depend on the deployment profile (``TRELLIS_PROFILE``).

    ``embedded`` (default): DEBUG on, SQLite in WAL mode under ``data_dir``, ALLOWED_HOSTS
    limited to loopback names — for one machine, and the dashboard says so.
    ``production``: refuses to start with DEBUG on, a weak SECRET_KEY or no ALLOWED_HOSTS, and
    turns on the HTTPS settings ``manage.py check --deploy`` asks for.

    Environment: ``TRELLIS_PROFILE``, ``DATABASE_URL``, ``DJANGO_SECRET_KEY``,
    ``DJANGO_DEBUG``, ``DJANGO_ALLOWED_HOSTS`` (comma-separated), ``TRELLIS_CACHE_URL``
    (``redis://host:6379/1``: Django's cache on Redis, shared by every process; unset, each
    process has its own local-memory cache) and ``TRELLIS_PROXY_SSL_HEADER``: the request
    header a TLS-terminating proxy in front of the service sets to ``https`` (e.g.
    ``X-Forwarded-Proto``). Unset, no header is trusted: a client could forge it, so trust it
    only when every request comes through such a proxy that overwrites the header (see
    :func:`proxy_ssl_header`).

    :raises ImproperlyConfigured: naming the variable at fault and what to set.
    """
    env = os.environ if environ is None else environ
    profile = env.get("TRELLIS_PROFILE", "embedded").strip() or "embedded"
    if profile not in PROFILES:
        raise ImproperlyConfigured(
            f"TRELLIS_PROFILE={profile!r} is not a profile; use one of: {', '.join(PROFILES)}"
        )
    production = profile == "production"
    debug_text = env.get("DJANGO_DEBUG", "0" if production else "1").strip().lower()
    if debug_text not in {"0", "1", "true", "false", "yes", "no", "on", "off", ""}:
        raise ImproperlyConfigured(f"DJANGO_DEBUG must be a boolean (1/0); found {debug_text!r}")
    debug = debug_text in {"1", "true", "yes", "on"}
    secret = env.get("DJANGO_SECRET_KEY", "") or EMBEDDED_SECRET_KEY
    hosts = [h.strip() for h in env.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
    settings: dict[str, Any] = {
        "TRELLIS_PROFILE": profile,
        "DEBUG": debug,
        "SECRET_KEY": secret,
        "ALLOWED_HOSTS": hosts or ["127.0.0.1", "localhost", "[::1]"],
        "DATABASES": {"default": database_from_env(data_dir=data_dir, environ=env)},
    }
    caches = caches_from_env(env)
    if caches is not None:
        settings["CACHES"] = caches
    proxy_header = proxy_ssl_header(env.get("TRELLIS_PROXY_SSL_HEADER", ""))
    if proxy_header is not None:
        settings["SECURE_PROXY_SSL_HEADER"] = proxy_header
    if production:
        problems = []
        if debug:
            problems.append("DJANGO_DEBUG is on; unset it or set DJANGO_DEBUG=0")
        if (
            secret == EMBEDDED_SECRET_KEY
            or len(secret) < 50
            or len(set(secret)) < 5
            or secret.startswith("django-insecure-")
        ):
            problems.append(
                "DJANGO_SECRET_KEY is unset, the embedded default, shorter than 50 characters, "
                "made of fewer than 5 distinct characters or a 'django-insecure-' key; set a "
                "long random value (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
            )
        if not hosts:
            problems.append("DJANGO_ALLOWED_HOSTS is empty; set the host names served")
        if problems:
            raise ImproperlyConfigured(
                "the production profile refuses to start: " + "; ".join(problems)
            )
        settings.update(
            SECURE_SSL_REDIRECT=True,
            SECURE_HSTS_SECONDS=31_536_000,
            SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
            SECURE_HSTS_PRELOAD=True,
            SESSION_COOKIE_SECURE=True,
            CSRF_COOKIE_SECURE=True,
        )
    return settings


CACHE_TIMEOUT_SECONDS = 2.0
"""Connect and socket timeout of the Redis cache: a cache that hangs must not hang requests."""


def caches_from_env(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """Django's ``CACHES`` from ``TRELLIS_CACHE_URL`` (``redis://`` or ``rediss://``), or None.

    :raises ImproperlyConfigured: another scheme, naming only the scheme (URLs carry passwords).
    """
    url = environ.get("TRELLIS_CACHE_URL", "").strip()
    if not url:
        return None
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("redis", "rediss"):
        raise ImproperlyConfigured(
            f"TRELLIS_CACHE_URL with scheme {scheme!r} cannot be used: give a Redis URL such as "
            "redis://127.0.0.1:6379/1 (or unset it for a local-memory cache per process)"
        )
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "socket_connect_timeout": CACHE_TIMEOUT_SECONDS,
                "socket_timeout": CACHE_TIMEOUT_SECONDS,
            },
        }
    }


def proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """Django's ``SECURE_PROXY_SSL_HEADER`` for a header name (``"X-Forwarded-Proto"``).

    ``""`` means no proxy header is trusted (``None``). The header must carry ``https`` for a
    request to count as secure.

    :raises ImproperlyConfigured: the name is not an HTTP header name (letters, digits and
        single hyphens).
    """
    name = value.strip()
    if not name:
        return None
    if not _HEADER_NAME.fullmatch(name):
        raise ImproperlyConfigured(
            f"TRELLIS_PROXY_SSL_HEADER={value!r} is not a header name; use the name of the "
            "header your TLS-terminating proxy sets, such as X-Forwarded-Proto"
        )
    return ("HTTP_" + name.upper().replace("-", "_"), "https")


def database_from_env(
    *, data_dir: Path, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The default database: ``DATABASE_URL`` if set, else SQLite (WAL) under ``data_dir``.

    Connections persist (``CONN_MAX_AGE`` 600 s, with health checks).
    """
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL", "").strip()
    if url:
        try:
            config: dict[str, Any] = dict(
                dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
            )
        except Exception as exc:
            scheme = url.split(":", 1)[0]
            raise ImproperlyConfigured(
                f"DATABASE_URL with scheme {scheme!r} cannot be used: {exc}; "
                "expected e.g. postgres://user@host:5432/name or sqlite:///path/db.sqlite3"
            ) from None
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(data_dir / "db.sqlite3"),
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
        }
    if config["ENGINE"] == "django.db.backends.sqlite3":
        options = dict(config.get("OPTIONS", {}))
        options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        options.setdefault("transaction_mode", "IMMEDIATE")
        config["OPTIONS"] = options
    return config
