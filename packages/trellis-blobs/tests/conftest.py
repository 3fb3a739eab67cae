from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from trellis import blobs


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
