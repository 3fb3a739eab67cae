"""hq with its blobs in services/blobs: the service stage of the path, end to end.

hq keeps blob metadata in its own database and sends content to services/blobs (provider
``remote``); ``/health`` reports the remote dependency, degraded while the service is down
and ok again once it is back.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest

from trellis.remote.testing import ServiceProcess, new_secret

PUT = """
import io
from trellis import blobs
info = blobs.put(io.BytesIO(b"field photo " * 1000), domain="demo", parent_id="form-1",
                 type_code=1, name="photo.jpg", content_type="image/jpeg")
print("KEY=" + info.key)
"""

READ = """
from trellis import blobs
print("LEN=%d" % len(blobs.read_bytes("{key}")))
"""


def _health(server, token: str) -> dict[str, dict[str, object]]:
    status, body, _ = server.get("/health", headers={"Authorization": f"Bearer {token}"})
    assert status in (200, 503), body
    return {c["name"]: c for c in json.loads(body)["checks"]}


@pytest.fixture
def service(tmp_path: Path):
    with ServiceProcess("blobs_service", data_dir=tmp_path / "service", secret=new_secret()) as s:
        yield s


def test_hq_stores_content_in_the_service_and_metadata_at_home(hq, tmp_path, service):
    token = secrets.token_hex(20)
    env = hq.env(
        tmp_path / "hq",
        **service.client_env(),
        TRELLIS_MONITORING_TOKEN=token,
        TRELLIS_HEALTH_INTERVAL="0.1",
        TRELLIS_REMOTE_BLOBS_RESET="2",
    )
    hq.manage(env, "migrate", "--no-input")
    put = hq.manage(env, "shell", "-c", PUT)
    key = next(line[4:] for line in put.stdout.splitlines() if line.startswith("KEY="))
    assert "remote call blobs/blobs_write -> 200" in put.stderr  # hq logged the hop

    assert "LEN=12000" in hq.manage(env, "shell", "-c", READ.format(key=key)).stdout.splitlines()
    stored = [p for p in (tmp_path / "service" / "blobs").rglob("*") if p.is_file()]
    assert [p.stat().st_size for p in stored if not p.name.startswith("~")] == [12000]
    assert not (tmp_path / "hq" / "blobs").exists()  # hq keeps no content itself
    assert "served remote blobs/blobs_write -> 200" in service.log.read_text()

    server = hq.start(env)
    try:
        checks = _health(server, token)
        assert checks["remote.blobs"]["status"] == "ok", checks["remote.blobs"]
        service.kill()
        time.sleep(0.3)  # past the health interval: the deep checks run again
        checks = _health(server, token)
        assert checks["remote.blobs"]["status"] == "warn", json.dumps(checks)
        assert "could not be reached" in checks["remote.blobs"]["message"]
        service.start()
        deadline = time.monotonic() + 30  # a trial call goes through 2 s after the circuit opened
        while _health(server, token)["remote.blobs"]["status"] != "ok":
            assert time.monotonic() < deadline, _health(server, token)["remote.blobs"]
            time.sleep(0.5)
    finally:
        hq.stop(server)
