"""The blobs contract suite, passed by provider ``remote`` against services/blobs."""

from __future__ import annotations

import pytest

from trellis.blobs.testing import BlobsContract
from trellis.remote.testing import ServiceProcess


class TestRemoteBlobs(BlobsContract):
    """Every blobs contract test, the hooks answered by services/blobs under gunicorn."""

    provider = "remote"
    discover = True

    @pytest.fixture(autouse=True)
    def _provider_environment(
        self, blobs_service: ServiceProcess, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name, value in blobs_service.client_env().items():
            monkeypatch.setenv(name, value)
