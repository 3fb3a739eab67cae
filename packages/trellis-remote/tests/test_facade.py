"""The blobs facade over provider ``remote``: what an application sees, metadata at home."""

from __future__ import annotations

import io

import pytest

from trellis import blobs
from trellis.blobs.models import BlobMeta
from trellis.core import set_host
from trellis.core.testing import isolated_host
from trellis.remote import RemoteUnavailable
from trellis.remote.testing import ServiceProcess, new_secret

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def remote_host(monkeypatch: pytest.MonkeyPatch):
    def build(env: dict[str, str]):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        host = isolated_host(discover=True, providers={"blobs": "remote"})
        set_host(host)
        return host

    yield build
    set_host(None)


def test_put_and_read_through_the_service(remote_host, blobs_service: ServiceProcess) -> None:
    remote_host(blobs_service.client_env())
    info = blobs.put(
        io.BytesIO(b"photo" * 1000), domain="d", parent_id="p", type_code=1, name="a.jpg"
    )
    assert BlobMeta.objects.filter(key=info.key).count() == 1  # metadata at home
    assert blobs.read_bytes(info.key) == b"photo" * 1000
    with pytest.raises(blobs.NotFound):
        blobs.read_bytes("no/such/key")


def test_an_unreachable_service_is_a_store_that_is_unavailable(remote_host, tmp_path) -> None:
    never_started = ServiceProcess("blobs_service", data_dir=tmp_path, secret=new_secret())
    remote_host({**never_started.client_env(), "TRELLIS_REMOTE_BLOBS_CONNECT_TIMEOUT": "0.5"})
    with pytest.raises(blobs.BlobStoreUnavailable) as caught:
        blobs.put(io.BytesIO(b"x"), domain="d", parent_id="p", type_code=1, name="a")
    assert isinstance(caught.value.__cause__, RemoteUnavailable)
    assert not BlobMeta.objects.exists()  # nothing recorded for content that was not stored
