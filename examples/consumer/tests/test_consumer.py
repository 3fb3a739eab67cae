"""The consumer's suite: the blobs contract against the selected provider, and the facade.

``TRELLIS_BLOBS_PROVIDER`` (default ``filesystem``) picks the provider. Nothing here knows how
trellis-blobs was installed: ``nox -s path`` runs these same bytes against every stage.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from consumer.attachments import (
    attachment_delete,
    attachment_list,
    attachment_read,
    attachment_store,
    attachment_stream,
)

from trellis import blobs
from trellis.blobs.testing import BlobsContract


class TestSelectedProvider(BlobsContract):
    """The contract suite trellis-blobs ships, run against whatever provider is selected."""

    provider = os.environ.get("TRELLIS_BLOBS_PROVIDER", "filesystem")
    discover = True

    def provider_settings(self, tmp_path: Path) -> dict[str, str]:
        if self.provider != "filesystem":
            return {}  # the environment already carries that provider's settings
        return dict(super().provider_settings(tmp_path))


@pytest.mark.django_db
def test_a_stored_attachment_reads_back():
    info = attachment_store(
        b"household survey, page 1", form_id="form-1", name="page1.txt", content_type="text/plain"
    )
    assert info.length == 24
    assert info.content_type == "text/plain"
    assert attachment_read(info.key) == b"household survey, page 1"
    assert blobs.get_info(info.key) == info


@pytest.mark.django_db
def test_a_large_attachment_streams_in_chunks():
    content = os.urandom(3 * 1024 * 1024 + 17)
    info = attachment_store(
        io.BytesIO(content), form_id="form-2", name="photo.jpg", content_type="image/jpeg"
    )
    chunks = list(attachment_stream(info.key, chunk_size=1 << 20))
    assert len(chunks) == 4
    assert b"".join(chunks) == content


@pytest.mark.django_db
def test_attachments_are_listed_oldest_first_per_form():
    first = attachment_store(b"1", form_id="form-3", name="a.txt")
    second = attachment_store(b"22", form_id="form-3", name="b.txt")
    attachment_store(b"333", form_id="form-4", name="c.txt")
    listed = attachment_list(form_id="form-3")
    assert [info.key for info in listed] == [first.key, second.key]
    assert [info.length for info in listed] == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_a_deleted_attachment_is_gone():
    info = attachment_store(b"gone soon", form_id="form-5", name="x.txt")
    assert attachment_delete(info.key) is True
    assert attachment_list(form_id="form-5") == []
    with pytest.raises(blobs.NotFound):
        attachment_read(info.key)
    assert attachment_delete(info.key) is False
