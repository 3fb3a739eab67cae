from __future__ import annotations

import pytest

pytest.importorskip("django", reason="install trellis-core[django] to run the Django tests")

from django.core.exceptions import ImproperlyConfigured

from trellis.core.django import EMBEDDED_SECRET_KEY, database_from_env, profile_settings

GOOD_SECRET = "kq3-Zr8v_Lp2wNx7Yb4Tc9Hd1Mf6Gj0Se5Ua-Oi2Qe8Wr4Ty7Ui1Op3As6Df9Gh"


def test_embedded_profile_is_sqlite_wal_on_loopback(tmp_path):
    settings = profile_settings(data_dir=tmp_path / "data", environ={})
    assert settings["DEBUG"] is True
    assert settings["SECRET_KEY"] == EMBEDDED_SECRET_KEY
    assert settings["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]
    db = settings["DATABASES"]["default"]
    assert db["NAME"] == str(tmp_path / "data" / "db.sqlite3")
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["CONN_MAX_AGE"] == 600


def test_database_url_selects_postgres(tmp_path):
    db = database_from_env(
        data_dir=tmp_path, environ={"DATABASE_URL": "postgres://app@db.internal:5433/trellis"}
    )
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == (
        "db.internal",
        5433,
        "trellis",
        "app",
    )
    assert db["CONN_MAX_AGE"] == 600 and db["CONN_HEALTH_CHECKS"] is True


def test_bad_database_url_names_the_scheme_only(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="scheme 'mongo'") as info:
        database_from_env(data_dir=tmp_path, environ={"DATABASE_URL": "mongo://u:hunter2@h/db"})
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"DJANGO_DEBUG": "1", "DJANGO_SECRET_KEY": GOOD_SECRET, "DJANGO_ALLOWED_HOSTS": "a"},
            "DJANGO_DEBUG is on",
        ),
        ({"DJANGO_ALLOWED_HOSTS": "a"}, "DJANGO_SECRET_KEY is unset"),
        ({"DJANGO_SECRET_KEY": "short", "DJANGO_ALLOWED_HOSTS": "a"}, "shorter than 50"),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET}, "DJANGO_ALLOWED_HOSTS is empty"),
        ({"DJANGO_SECRET_KEY": "p" * 64, "DJANGO_ALLOWED_HOSTS": "a"}, "DJANGO_SECRET_KEY is"),
        (
            {"DJANGO_SECRET_KEY": "django-insecure-" + GOOD_SECRET, "DJANGO_ALLOWED_HOSTS": "a"},
            "DJANGO_SECRET_KEY is",
        ),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path, environ, message):
    with pytest.raises(ImproperlyConfigured, match=message) as info:
        profile_settings(data_dir=tmp_path, environ={"TRELLIS_PROFILE": "production", **environ})
    assert GOOD_SECRET not in str(info.value)


def test_production_turns_on_https_settings(tmp_path):
    settings = profile_settings(
        data_dir=tmp_path,
        environ={
            "TRELLIS_PROFILE": "production",
            "DJANGO_SECRET_KEY": GOOD_SECRET,
            "DJANGO_ALLOWED_HOSTS": "hq.example.org, api.example.org",
        },
    )
    assert settings["DEBUG"] is False
    assert settings["ALLOWED_HOSTS"] == ["hq.example.org", "api.example.org"]
    assert settings["SESSION_COOKIE_SECURE"] and settings["SECURE_SSL_REDIRECT"]


def test_unknown_profile(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="TRELLIS_PROFILE='staging' is not a profile"):
        profile_settings(data_dir=tmp_path, environ={"TRELLIS_PROFILE": "staging"})


PRODUCTION = {
    "TRELLIS_PROFILE": "production",
    "DJANGO_SECRET_KEY": GOOD_SECRET,
    "DJANGO_ALLOWED_HOSTS": "hq.example.org",
}


def test_production_trusts_no_proxy_header_unless_told(tmp_path):
    settings = profile_settings(data_dir=tmp_path, environ=PRODUCTION)
    assert "SECURE_PROXY_SSL_HEADER" not in settings


@pytest.mark.parametrize(
    ("name", "meta"),
    [("X-Forwarded-Proto", "HTTP_X_FORWARDED_PROTO"), ("x-forwarded-ssl", "HTTP_X_FORWARDED_SSL")],
)
def test_the_proxy_header_to_trust_is_a_setting(tmp_path, name, meta):
    environ = {**PRODUCTION, "TRELLIS_PROXY_SSL_HEADER": name}
    settings = profile_settings(data_dir=tmp_path, environ=environ)
    assert settings["SECURE_PROXY_SSL_HEADER"] == (meta, "https")


@pytest.mark.parametrize(
    "name", ["X_Forwarded_Proto", "X-Forwarded\nProto", "X Proto", "X--Proto", "-X"]
)
def test_a_malformed_proxy_header_name_is_refused(tmp_path, name):
    with pytest.raises(ImproperlyConfigured, match=r"TRELLIS_PROXY_SSL_HEADER=.* is not a header"):
        profile_settings(
            data_dir=tmp_path, environ={**PRODUCTION, "TRELLIS_PROXY_SSL_HEADER": name}
        )


def test_cache_url_selects_redis_with_timeouts(tmp_path):
    assert "CACHES" not in profile_settings(data_dir=tmp_path, environ={})
    settings = profile_settings(
        data_dir=tmp_path, environ={"TRELLIS_CACHE_URL": "redis://:s3cret@127.0.0.1:6379/3"}
    )
    cache = settings["CACHES"]["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://:s3cret@127.0.0.1:6379/3"
    assert cache["OPTIONS"] == {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}


@pytest.mark.parametrize("url", ["memcached://:pw@127.0.0.1:11211", "127.0.0.1:6379"])
def test_a_cache_url_that_is_not_redis_is_refused_without_its_password(tmp_path, url):
    with pytest.raises(ImproperlyConfigured, match="TRELLIS_CACHE_URL with scheme") as info:
        profile_settings(data_dir=tmp_path, environ={"TRELLIS_CACHE_URL": url})
    assert "pw" not in str(info.value)
