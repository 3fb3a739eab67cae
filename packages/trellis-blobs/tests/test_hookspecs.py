"""One test per hook of the ``blobs`` contract, through the selected provider of a real host."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from trellis.blobs import NotFound, StoredBlob, filesystem, hookspecs, plugin
from trellis.core.testing import isolated_host


@pytest.fixture
def host():
    return isolated_host(plugin, filesystem)


def test_contract_and_hook_kinds(host):
    assert hookspecs.CONTRACT.name == "blobs"
    assert hookspecs.CONTRACT.default_provider == "filesystem"
    kinds = {h.name: h.kind for h in host.hooks() if h.contract == "blobs"}
    assert kinds == {
        **dict.fromkeys(
            ["blobs_delete", "blobs_exists", "blobs_open", "blobs_scan", "blobs_write"], "provider"
        ),
        "blobs_can_read": "extension",
    }


def test_hook_blobs_write(host):
    assert host.call("blobs_write", key="w", stream=io.BytesIO(b"abc")) == 3
    assert filesystem.path_for("w").read_bytes() == b"abc"


def test_hook_blobs_open(host):
    host.call("blobs_write", key="o", stream=io.BytesIO(b"abc"))
    with host.call("blobs_open", key="o") as stream:
        assert stream.read() == b"abc"
    with pytest.raises(NotFound):
        host.call("blobs_open", key="missing")


def test_hook_blobs_delete(host):
    host.call("blobs_write", key="d", stream=io.BytesIO(b"abc"))
    assert host.call("blobs_delete", key="d") is True
    assert host.call("blobs_delete", key="d") is False


def test_hook_blobs_exists(host):
    assert host.call("blobs_exists", key="e") is False
    host.call("blobs_write", key="e", stream=io.BytesIO(b""))
    assert host.call("blobs_exists", key="e") is True


def test_hook_blobs_scan(host):
    before = datetime.now(UTC).replace(microsecond=0)
    host.call("blobs_write", key="s/1", stream=io.BytesIO(b"abc"))
    [blob] = host.call("blobs_scan")
    assert isinstance(blob, StoredBlob)
    assert (blob.key, blob.length) == ("s/1", 3)
    assert blob.modified >= before
