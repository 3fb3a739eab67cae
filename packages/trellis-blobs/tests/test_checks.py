"""System checks: a blob store that cannot work is reported by ``manage.py check``."""

from __future__ import annotations

import pytest
from django.core import checks

from trellis.blobs import _checks
from trellis.core import ConfigurationError, get_host, set_host
from trellis.core.testing import isolated_host


def blob_checks(**kwargs) -> dict[str, str]:
    """``{id: message}`` of the trellis_blobs messages of a full check run."""
    return {m.id: m.msg for m in checks.run_checks(**kwargs) if m.id.startswith("trellis_blobs.")}


@pytest.fixture
def provider():
    """Select a blobs provider for this test with a host of its own (read once per process)."""
    previous = get_host()

    def select(name: str) -> None:
        set_host(isolated_host(discover=True, providers={"blobs": name}))

    yield select
    set_host(previous)


def test_the_test_project_passes():
    assert blob_checks() == {}


def test_s3_without_a_bucket_is_an_error(provider, monkeypatch):
    monkeypatch.delenv("TRELLIS_BLOBS_S3_BUCKET", raising=False)
    provider("s3")
    assert "TRELLIS_BLOBS_S3_BUCKET" in blob_checks()["trellis_blobs.E003"]


def test_s3_with_unusable_settings_is_an_error(provider, monkeypatch):
    monkeypatch.setenv("TRELLIS_BLOBS_S3_BUCKET", "acme")
    monkeypatch.setenv("TRELLIS_BLOBS_S3_READ_TIMEOUT", "never")
    provider("s3")
    assert "TRELLIS_BLOBS_S3_READ_TIMEOUT" in blob_checks()["trellis_blobs.E003"]
    monkeypatch.delenv("TRELLIS_BLOBS_S3_READ_TIMEOUT")
    assert blob_checks() == {}  # a bucket is all s3 needs; no request is made


def test_migrating_without_from_and_to_is_an_error(provider, monkeypatch):
    for name in ("TRELLIS_BLOBS_MIGRATE_FROM", "TRELLIS_BLOBS_MIGRATE_TO"):
        monkeypatch.delenv(name, raising=False)
    provider("migrating")
    message = blob_checks()["trellis_blobs.E003"]
    assert "TRELLIS_BLOBS_MIGRATE_FROM and TRELLIS_BLOBS_MIGRATE_TO" in message


def test_migrating_checks_both_of_its_providers(provider, monkeypatch):
    monkeypatch.setenv("TRELLIS_BLOBS_MIGRATE_FROM", "filesystem")
    monkeypatch.setenv("TRELLIS_BLOBS_MIGRATE_TO", "s3")
    monkeypatch.delenv("TRELLIS_BLOBS_S3_BUCKET", raising=False)
    provider("migrating")
    assert "TRELLIS_BLOBS_S3_BUCKET" in blob_checks()["trellis_blobs.E003"]


def test_an_unknown_provider_is_an_error(provider):
    provider("filesytem")
    assert "did you mean 'filesystem'" in blob_checks()["trellis_blobs.E002"]


@pytest.mark.django_db
def test_a_relative_root_is_a_warning_and_refused_in_production(settings, monkeypatch, tmp_path):
    from trellis import blobs
    from trellis.blobs._settings import filesystem_root

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", "var/blobs")
    assert (
        "'var/blobs' (TRELLIS_BLOBS_ROOT) is a relative path" in blob_checks()["trellis_blobs.W001"]
    )
    assert filesystem_root() == tmp_path / "var" / "blobs"  # still usable outside production
    settings.TRELLIS_PROFILE = "production"
    assert "production profile refuses it" in blob_checks()["trellis_blobs.E004"]
    with pytest.raises(ConfigurationError, match="set TRELLIS_BLOBS_ROOT to an absolute path"):
        blobs.put(b"x", domain="d", parent_id="p", type_code=1)


def test_the_default_root_is_relative_when_there_is_no_data_dir(settings, monkeypatch):
    monkeypatch.delenv("TRELLIS_BLOBS_ROOT", raising=False)
    monkeypatch.delenv("TRELLIS_DATA_DIR", raising=False)
    del settings.TRELLIS_BLOBS_ROOT
    del settings.TRELLIS_DATA_DIR
    assert "'var/blobs' (the default root)" in blob_checks()["trellis_blobs.W001"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, {"trellis_blobs.W002", "trellis_blobs.W003"}),
        ({"transaction_mode": "IMMEDIATE"}, {"trellis_blobs.W003"}),
        ({"init_command": "PRAGMA journal_mode = WAL;"}, {"trellis_blobs.W002"}),
        (
            {"transaction_mode": "immediate", "init_command": "PRAGMA journal_mode=wal"},
            set(),
        ),
    ],
)
def test_sqlite_without_immediate_transactions_or_wal_is_a_warning(options, expected):
    """Read from the settings when the check may not query the database (plain ``check``)."""
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    saved = settings_dict.get("OPTIONS")
    settings_dict["OPTIONS"] = options
    try:
        found = {m.id for m in _checks.check_database(databases=())}
    finally:
        settings_dict["OPTIONS"] = saved
    assert found == expected


@pytest.mark.django_db
def test_wal_is_read_from_the_database_when_the_check_may_query_it():
    from django.db import connection

    with connection.cursor() as cursor:  # pytest-django's test database is in memory
        cursor.execute("PRAGMA journal_mode")
        mode = cursor.fetchone()[0]
    found = {m.id for m in _checks.check_database(databases=["default"])}
    assert ("trellis_blobs.W003" in found) == (mode.lower() != "wal")
