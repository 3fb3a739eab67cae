"""The celery provider on real PostgreSQL, Redis, RabbitMQ and Celery worker processes.

The suite itself is ``celery_suite.py``, run here in a pytest process of its own with
``tasks_test_settings`` (PostgreSQL, so workers and test share commits): the contract suite,
the SIGKILL fault test and a RabbitMQ round trip. Every service is required: under CI a
missing one fails, locally it skips with the command to start it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from trellis.core.testing import clean_environ, postgres_database, require_service

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
REDIS_URL = os.environ.get("TRELLIS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("TRELLIS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _probe_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL, socket_timeout=3, socket_connect_timeout=3).ping()


def _probe_rabbitmq() -> None:
    socket.create_connection(("127.0.0.1", 5672), timeout=3).close()


def _forget(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=10, socket_connect_timeout=10)
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)


def _drop(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_celery_provider_contract_faults_and_rabbitmq() -> None:
    require_service("Redis", _probe_redis, how_to_start="start redis-server on 127.0.0.1:6379")
    require_service("RabbitMQ", _probe_rabbitmq, how_to_start="start rabbitmq-server")
    with postgres_database("trellis_tasks") as url, tempfile.TemporaryDirectory() as logs:
        test_db = f"test_{url.rsplit('/', 1)[1]}"
        prefix = f"trellis-tasks-test:{uuid.uuid4().hex[:12]}:"
        env = clean_environ(
            {
                "TASKS_TEST_DATABASE_URL": url,
                "TASKS_TEST_TEST_DATABASE": test_db,
                "TASKS_TEST_BROKER_URL": REDIS_URL,
                "TASKS_TEST_AMQP_URL": AMQP_URL,
                "TASKS_TEST_LOG_DIR": logs,
                "TASKS_TEST_KEY_PREFIX": prefix,
                "PYTHONPATH": str(HERE),
                "CI": os.environ.get("CI", ""),
            }
        )
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(ROOT),
            "--ds=tasks_test_settings",
            str(HERE / "celery_suite.py"),
        ]
        try:
            result = subprocess.run(
                command,
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        finally:
            _drop(url, test_db)
            _forget(prefix)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            worker_logs = "".join(
                f"\n--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                for p in sorted(Path(logs).glob("*.log"))
            )
            raise AssertionError(f"celery suite failed:\n{output[-15000:]}{worker_logs}")
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed[1]) >= 10, output
    assert "skipped" not in output and "failed" not in output, output
