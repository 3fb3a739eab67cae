"""The metadata layer on PostgreSQL (the scaled profile): locking, savepoints, the partial index.

Runs a script in a subprocess against a fresh database, as the composed service would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.postgres


SCRIPT = """
import hashlib
import io
import json
from datetime import timedelta

import django

django.setup()

from django.core.management import call_command
from django.db import connection, transaction

from trellis import blobs
from trellis.blobs import filesystem
from trellis.blobs.models import BlobMeta
from trellis.blobs.services import blobs_expire
from trellis.core import get_host, hookimpl

call_command("migrate", verbosity=0)
result = {}
with connection.cursor() as cursor:
    cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'trellis_blobs_expires'")
    result["index"] = cursor.fetchone()[0]

def put(key, **kwargs):
    return blobs.put(b"x", key=key, domain="d", parent_id="p", type_code=1, **kwargs)

for n in range(5):
    put(f"old/{n}", expires=timedelta(seconds=-1 - n))
put("later", expires=timedelta(days=1))
report = blobs_expire(batch_size=2)
result["expired"] = [report.deleted, report.batches]
result["left"] = sorted(BlobMeta.objects.values_list("key", flat=True))

WINNER = b"the winner's content"

class Racing:
    TRELLIS_IMPLEMENTS = {"blobs": ">=1,<2"}

    @staticmethod
    @hookimpl(wrapper=True)
    def blobs_write(key, stream):
        written = yield
        if key == "contested":  # another put stores its content over ours, and its row
            path = filesystem.path_for(key)
            path.unlink()
            path.write_bytes(WINNER)
            BlobMeta.objects.create(key=key, domain="d", parent_id="p", type_code=0,
                                    length=len(WINNER), sha256=hashlib.sha256(WINNER).hexdigest())
        return written

get_host().register(Racing(), "racing")
with transaction.atomic():
    try:
        put("contested")
    except blobs.KeyExists as exc:
        result["race"] = str(exc)
    put("after-race")  # the outer transaction survived the failed insert
    result["bulk"] = blobs.bulk_delete(["after-race", "later", "missing"])
for field in ("domain", "parent_id"):  # PostgreSQL refuses NUL: refused before any write
    try:
        blobs.put(b"x", key=f"nul-{field}", **{"domain": "d", "parent_id": "p", field: "a\\x00b"},
                  type_code=1)
    except ValueError as exc:
        result.setdefault("nul", []).append(str(exc))
result["after"] = sorted(BlobMeta.objects.values_list("key", flat=True))
result["contested"] = blobs.read_bytes("contested").decode()
print(json.dumps(result))
"""


def test_metadata_on_postgresql(trellis_postgres_script: Any, tmp_path: Path) -> None:
    result = trellis_postgres_script(SCRIPT)  # blobs under tmp_path / "blobs"
    assert "WHERE (expires IS NOT NULL)" in result["index"]
    assert result["expired"] == [5, 3]
    assert result["left"] == ["later"]
    assert "concurrently" in result["race"]
    assert result["bulk"] == 2
    assert len(result["nul"]) == 2 and all("control characters" in m for m in result["nul"])
    assert result["after"] == ["contested"]  # the racing put's row, not ours
    assert result["contested"] == "the winner's content"  # and the winner's content, intact
    content = sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    assert content == ["contested"]
