from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from trellis import blobs
from trellis.blobs.s3testing import S3Server, s3_server


@pytest.fixture(autouse=True)
def blob_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test stores content under its own directory, with the default settings."""
    root = tmp_path / "blobs"
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(root))
    monkeypatch.delenv("TRELLIS_BLOBS_MAX_SIZE", raising=False)
    return root


@pytest.fixture
def stored_files(blob_root: Path) -> Callable[[], list[str]]:
    """Every file under the blob root (content and temporary files alike), relative paths."""

    def files() -> list[str]:
        if not blob_root.exists():
            return []
        return sorted(
            os.path.relpath(os.path.join(d, f), blob_root)
            for d, _, names in os.walk(blob_root)
            for f in names
        )

    return files


@pytest.fixture
def put() -> Callable[..., blobs.BlobInfo]:
    """``blobs.put`` with owner fields filled in: ``put(b"...", key="k")``."""

    def store(content: object = b"content", **kwargs: object) -> blobs.BlobInfo:
        fields: dict[str, object] = {"domain": "demo", "parent_id": "form-1", "type_code": 1}
        fields.update(kwargs)
        return blobs.put(content, **fields)  # type: ignore[arg-type]

    return store


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    """A real S3 API server (moto's server mode) on loopback, one per test module."""
    with s3_server() as running:
        yield running


@pytest.fixture(scope="module")
def bucket(server: S3Server) -> str:
    """A fresh bucket on the module's S3 server."""
    return server.create_bucket()
