"""The blobs plugin as the composed service sees it: app, URLs, health check."""

from __future__ import annotations

import pytest

from trellis.blobs import plugin
from trellis.core import get_host

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cached_health():
    """The blobs check is deep: its result is cached between runs, in Django's cache."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_plugins_are_active_and_filesystem_is_the_default():
    host = get_host()
    records = {r.name: r for r in host.plugins()}
    assert records["blobs"].status == "active"
    assert records["blobs"].defines == {"blobs": "1.2.0"}
    assert records["blobs-filesystem"].status == "active"
    assert records["blobs-filesystem"].distribution == "trellis-blobs"
    assert host.selected_provider("blobs") == "filesystem"


def test_contributions():
    assert plugin.core_django_apps() == ["trellis.blobs"]
    [mount] = plugin.core_url_mounts()
    assert mount.prefix == "blobs/"
    assert (mount.urlconf, mount.namespace, mount.api) == ("trellis.blobs.urls", "blobs", True)
    [check] = plugin.core_health_checks()
    assert (check.name, check.deep) == ("blobs", True)


def test_health_check_round_trips_through_the_provider(admin_client, stored_files):
    response = admin_client.get("/health?only=blobs")
    assert response.status_code == 200
    [check] = response.json()["checks"]
    assert check["status"] == "ok", check
    assert check["plugin"] == "blobs"
    assert check["details"] == {"provider": "filesystem"}
    assert "write, read and delete" in check["message"]
    assert stored_files() == []  # the probe is gone


def test_health_check_fails_when_the_store_is_unusable(admin_client, monkeypatch, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the root should be")
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(blocked))
    response = admin_client.get("/health?only=blobs")
    assert response.status_code == 503
    [check] = response.json()["checks"]
    assert check["status"] == "fail"
    assert check["message"].startswith("provider 'filesystem' failed while running the health")
    assert "Error" in check["message"]


def test_health_check_names_an_unreachable_provider(admin_client, unreachable_s3):
    [check] = admin_client.get("/health?only=blobs").json()["checks"]
    assert check["status"] == "fail"
    assert check["message"].startswith("provider 's3' failed while running the health probe")
    assert "EndpointConnectionError" in check["message"]
    assert "testing-secret-value" not in check["message"]


def test_health_check_names_a_stopped_s3_server(admin_client, stoppable_s3):
    [check] = admin_client.get("/health?only=blobs").json()["checks"]
    assert check["status"] == "ok", check
    from django.core.cache import cache

    cache.clear()  # the deep check's result is cached for the interval
    stoppable_s3()
    response = admin_client.get("/health?only=blobs")
    assert response.status_code == 503
    [check] = response.json()["checks"]
    assert (check["status"], check["details"]) == ("fail", {"provider": "s3"})
    assert check["message"].startswith("provider 's3' failed while running the health probe: ")
    assert "EndpointConnectionError" in check["message"] or "ConnectionClosed" in check["message"]
    assert "testing-secret-value" not in response.content.decode()


def test_health_check_catches_a_provider_returning_other_content(admin_client, trellis_register):
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
    [check] = admin_client.get("/health?only=blobs").json()["checks"]
    assert check["status"] == "fail"
    assert "different content" in check["message"]


def test_health_check_is_listed_with_the_others(admin_client):
    names = [c["name"] for c in admin_client.get("/health").json()["checks"]]
    assert {"plugins", "database", "blobs"} <= set(names)


def test_repeated_probes_leave_nothing_new_on_disk(blob_root):
    def entries():
        return sorted(p.relative_to(blob_root).as_posix() for p in blob_root.rglob("*"))

    assert plugin.round_trip().status == "ok"
    after_first = entries()
    assert all(not (blob_root / e).is_file() for e in after_first)  # the probe is gone
    for _ in range(5):
        assert plugin.round_trip().status == "ok"
    assert entries() == after_first  # no new fan-out directories per probe
