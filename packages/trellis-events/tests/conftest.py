from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from trellis.core.testing import require_service

REDIS_URL = os.environ.get("TRELLIS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_client():  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=3)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix on the test Redis (fails under CI, skips locally when unreachable);
    every key under it is deleted afterwards."""
    client = redis_client()
    require_service(
        "Redis",
        client.ping,
        how_to_start="start redis-server, or set TRELLIS_TEST_REDIS_URL",
    )
    prefix = f"trellis-test:{uuid.uuid4().hex[:10]}"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
