"""The migrating provider, between the filesystem and a real S3 API server (moto, own process)."""

from __future__ import annotations

import hashlib
import io
import os
import time
import types
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction

from trellis import blobs
from trellis.blobs import KeyExists, NotFound, filesystem, migrating
from trellis.blobs.models import BlobMeta
from trellis.blobs.s3testing import S3Server
from trellis.blobs.services import blobs_reap
from trellis.blobs.testing import BlobsContract
from trellis.core import ConfigurationError, Host, get_host, hookimpl, set_host
from trellis.core.testing import isolated_host


class _Migrating(BlobsContract):
    provider = "migrating"
    discover = True
    old: str
    new: str
    s3_env: dict[str, str]

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _s3(cls, server: S3Server, bucket: str) -> None:
        cls.s3_env = server.env(bucket)

    def provider_settings(self, tmp_path: Path) -> dict[str, str]:
        return {
            **self.s3_env,
            "TRELLIS_BLOBS_S3_PREFIX": f"t/{uuid.uuid4().hex}",
            "TRELLIS_BLOBS_ROOT": str(tmp_path / "blobs"),
            "TRELLIS_BLOBS_MIGRATE_FROM": self.old,
            "TRELLIS_BLOBS_MIGRATE_TO": self.new,
        }


class TestMigratingFilesystemToS3(_Migrating):
    old, new = "filesystem", "s3"


class TestMigratingS3ToFilesystem(_Migrating):
    old, new = "s3", "filesystem"


# -- behaviour --------------------------------------------------------------------------------


@pytest.fixture
def providers(server, bucket, tmp_path, monkeypatch) -> None:
    """filesystem (old) → s3 (new), each in a fresh place."""
    for name, value in server.env(bucket, prefix=f"t/{uuid.uuid4().hex}").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(tmp_path / "blobs"))
    monkeypatch.setenv("TRELLIS_BLOBS_MIGRATE_FROM", "filesystem")
    monkeypatch.setenv("TRELLIS_BLOBS_MIGRATE_TO", "s3")


def use_host(*plugins: object) -> Iterator[Host]:
    """A host with installed plugins (and ``plugins``), migrating selected, process-wide."""
    previous = get_host()
    host = isolated_host(*plugins, discover=True, providers={"blobs": "migrating"})
    set_host(host)
    try:
        yield host
    finally:
        set_host(previous)


@pytest.fixture
def host(providers) -> Iterator[Host]:
    yield from use_host()


def put(host: Host, provider: str, key: str, content: bytes) -> None:
    host.call_provider(provider, "blobs_write", key=key, stream=io.BytesIO(content))


def has(host: Host, provider: str, key: str) -> bool:
    return bool(host.call_provider(provider, "blobs_exists", key=key))


def read(host: Host, key: str) -> bytes:
    with host.call("blobs_open", key=key) as stream:
        return bytes(stream.read())


def test_writes_go_to_the_new_provider_only(host):
    host.call("blobs_write", key="fresh", stream=io.BytesIO(b"new"))
    assert has(host, "s3", "fresh")
    assert not has(host, "filesystem", "fresh")


def test_reads_fall_back_to_the_old_provider(host):
    put(host, "filesystem", "legacy", b"old content")
    assert host.call("blobs_exists", key="legacy") is True
    assert read(host, "legacy") == b"old content"
    with pytest.raises(NotFound):
        host.call("blobs_open", key="nowhere")
    assert host.call("blobs_exists", key="nowhere") is False


def test_the_new_provider_wins_when_both_hold_a_key(host):
    put(host, "filesystem", "both", b"old copy")
    put(host, "s3", "both", b"new copy")
    assert read(host, "both") == b"new copy"


@pytest.mark.parametrize(
    ("in_old", "in_new", "expected"),
    [(True, True, True), (True, False, True), (False, True, True), (False, False, False)],
)
def test_delete_removes_the_blob_from_both(host, in_old, in_new, expected):
    if in_old:
        put(host, "filesystem", "k", b"old")
    if in_new:
        put(host, "s3", "k", b"new")
    assert host.call("blobs_delete", key="k") is expected
    assert not has(host, "filesystem", "k")
    assert not has(host, "s3", "k")


def _broken_provider() -> types.ModuleType:
    """A provider ``broken`` whose delete always fails."""
    module = types.ModuleType("broken_blobs")

    @hookimpl(specname="blobs_delete")
    def delete(key: str) -> bool:
        raise OSError(f"cannot delete {key}")

    module.__dict__.update(
        TRELLIS_IMPLEMENTS={"blobs": ">=1.0,<2"},
        TRELLIS_PROVIDES={"blobs": "broken"},
        blobs_delete=delete,
    )
    return module


def test_delete_reaches_the_old_provider_even_when_the_new_one_fails(providers, monkeypatch):
    monkeypatch.setenv("TRELLIS_BLOBS_MIGRATE_TO", "broken")
    for host in use_host(_broken_provider()):
        put(host, "filesystem", "k", b"old")
        with pytest.raises(OSError, match="cannot delete k"):
            host.call("blobs_delete", key="k")
        assert not has(host, "filesystem", "k")


def test_scan_lists_each_blob_once_new_provider_first(host):
    for key in ("a", "b"):
        put(host, "s3", key, b"new")
    for key in ("b", "c", "d"):
        put(host, "filesystem", key, b"old!")
    listed = [(blob.key, blob.length) for blob in host.call("blobs_scan")]
    assert sorted(listed[:2]) == [("a", 3), ("b", 3)]
    assert sorted(listed[2:]) == [("c", 4), ("d", 4)]


def test_scan_past_its_memory_limit_asks_the_new_provider(host, monkeypatch):
    monkeypatch.setattr(migrating, "SCAN_MEMORY_KEYS", 1)
    for key in ("a", "b", "c"):
        put(host, "s3", key, b"new")
    for key in ("b", "c", "d", "e"):
        put(host, "filesystem", key, b"old!")
    s3_plugin = host.providers("blobs")["s3"]

    def exists_calls() -> int:
        stats = host.monitor.impl_stats().get(("blobs_exists", s3_plugin))
        return stats.calls if stats else 0

    before = exists_calls()
    listed = sorted(blob.key for blob in host.call("blobs_scan"))
    assert listed == ["a", "b", "c", "d", "e"]
    assert exists_calls() - before == 4  # one per old blob, none held in memory


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (None, None, "needs TRELLIS_BLOBS_MIGRATE_FROM and TRELLIS_BLOBS_MIGRATE_TO"),
        ("filesystem", None, "needs TRELLIS_BLOBS_MIGRATE_TO "),
        ("filesystem", "gcs", "TRELLIS_BLOBS_MIGRATE_TO names blobs provider 'gcs', which is"),
        ("migrating", "s3", "TRELLIS_BLOBS_MIGRATE_FROM is 'migrating'"),
        ("s3", "s3", "both name 's3'"),
    ],
)
def test_unusable_settings_name_the_setting_and_the_choices(
    providers, monkeypatch, old, new, message
):
    for name, value in (("TRELLIS_BLOBS_MIGRATE_FROM", old), ("TRELLIS_BLOBS_MIGRATE_TO", new)):
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    for host in use_host():
        for hook, kwargs in [("blobs_exists", {"key": "k"}), ("blobs_scan", {})]:
            with pytest.raises(ConfigurationError, match=message) as raised:
                host.call(hook, **kwargs)
            # every other installed provider is a choice (remote too, when installed)
            others = sorted(set(host.providers("blobs")) - {"migrating"})
            assert {"filesystem", "s3"} <= set(others)
            assert str(raised.value).endswith(f"available providers: {', '.join(others)}")


def test_settings_come_from_django_when_the_environment_has_none(providers, monkeypatch, settings):
    monkeypatch.delenv("TRELLIS_BLOBS_MIGRATE_FROM")
    monkeypatch.setenv("TRELLIS_BLOBS_MIGRATE_TO", " ")  # blank: the setting applies
    settings.TRELLIS_BLOBS_MIGRATE_FROM = "filesystem"
    settings.TRELLIS_BLOBS_MIGRATE_TO = "s3"
    for host in use_host():
        assert migrating.load_migration(host) == migrating.Migration(old="filesystem", new="s3")
        host.call("blobs_write", key="k", stream=io.BytesIO(b"x"))
        assert has(host, "s3", "k")


def test_write_refuses_a_key_the_old_provider_holds(host):
    put(host, "filesystem", "legacy", b"old")
    with pytest.raises(KeyExists, match=r"'legacy'.*'filesystem'"):
        host.call("blobs_write", key="legacy", stream=io.BytesIO(b"new"))
    assert not has(host, "s3", "legacy")
    assert read(host, "legacy") == b"old"


# -- through the facade, committing for real --------------------------------------------------


def put_blob(content: bytes, key: str) -> blobs.BlobInfo:
    return blobs.put(content, key=key, domain="d", parent_id="p", type_code=1)


@pytest.mark.django_db(transaction=True)
def test_delete_then_put_of_a_key_in_one_transaction_loses_nothing(host):
    put(host, "filesystem", "reused", b"old")  # stored before the migration started
    BlobMeta.objects.create(
        key="reused",
        domain="d",
        parent_id="p",
        type_code=1,
        length=3,
        sha256=hashlib.sha256(b"old").hexdigest(),
    )
    with transaction.atomic():
        assert blobs.delete("reused") is True
        with pytest.raises(KeyExists, match=r"deleted in this transaction.*commits"):
            put_blob(b"new", "reused")
    assert not has(host, "filesystem", "reused")
    assert not has(host, "s3", "reused")
    put_blob(b"new", "reused")  # committed: the key is free again
    assert blobs.read_bytes("reused") == b"new"
    assert has(host, "s3", "reused")


@pytest.mark.django_db
def test_reap_removes_stale_temporary_files_of_a_filesystem_side(host):
    put(host, "filesystem", "k", b"x")
    stale = filesystem.path_for("k").parent / "~tmp-crashed"
    stale.write_bytes(b"partial upload")
    then = time.time() - 7200
    os.utime(stale, (then, then))
    report = blobs_reap(older_than=timedelta(hours=1))
    assert report.temp_files == 1
    assert not stale.exists()
