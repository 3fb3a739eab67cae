"""The blobs plugin as the composed service sees it: app, URLs, health check."""

from __future__ import annotations

import pytest

from trellis.blobs import plugin
from trellis.core import get_host

pytestmark = pytest.mark.django_db


def test_plugins_are_active_and_filesystem_is_the_default():
    host = get_host()
    records = {r.name: r for r in host.plugins()}
    assert records["blobs"].status == "active"
    assert records["blobs"].defines == {"blobs": "1.0.0"}
    assert records["blobs-filesystem"].status == "active"
    assert records["blobs-filesystem"].distribution == "trellis-blobs"
    assert host.selected_provider("blobs") == "filesystem"


def test_contributions():
    assert plugin.core_django_apps() == ["trellis.blobs"]
    [mount] = plugin.core_url_mounts()
    assert mount.prefix == "blobs/"
    assert (mount.urlconf, mount.namespace) == ("trellis.blobs.urls", "blobs")
    assert [check.name for check in plugin.core_health_checks()] == ["blobs"]


def test_health_check_round_trips_through_the_provider(client, stored_files):
    response = client.get("/health?only=blobs")
    assert response.status_code == 200
    [check] = response.json()["checks"]
    assert check["status"] == "ok", check
    assert check["plugin"] == "blobs"
    assert check["details"] == {"provider": "filesystem"}
    assert "write, read and delete" in check["message"]
    assert stored_files() == []  # the probe is gone


def test_health_check_fails_when_the_store_is_unusable(client, monkeypatch, tmp_path, stored_files):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the root should be")
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(blocked))
    response = client.get("/health?only=blobs")
    assert response.status_code == 503
    [check] = response.json()["checks"]
    assert check["status"] == "fail"
    assert "Error" in check["message"]


def test_health_check_catches_a_provider_returning_other_content(client, trellis_register):
    from trellis.core import hookimpl

    class Liar:
        TRELLIS_IMPLEMENTS = {"blobs": ">=1,<2"}

        @staticmethod
        @hookimpl(wrapper=True)
        def blobs_open(key):
            import io

            real = yield
            real.close()
            return io.BytesIO(b"stale")

    trellis_register(Liar(), "liar")
    [check] = client.get("/health?only=blobs").json()["checks"]
    assert check["status"] == "fail"
    assert "different content" in check["message"]


def test_health_check_is_listed_with_the_others(client):
    names = [c["name"] for c in client.get("/health").json()["checks"]]
    assert {"plugins", "database", "blobs"} <= set(names)
