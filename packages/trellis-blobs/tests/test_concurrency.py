"""Two real processes racing on one database and one blob store.

Each test starts two worker processes (``_racers.py``: Django set up against the same
database, the same blob root or S3 bucket) and drives them over pipes. Overlap is arranged,
not hoped for: a worker stops at a synchronisation point (before its call, or inside it, in
the caller's own content stream or a database execute wrapper) and reports it; the test waits
until both are there and then releases them together, or releases one while the other is held.
Nothing here sleeps or measures time; the only deadline guards against a hang.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from trellis.blobs.s3testing import S3Server
from trellis.core.testing import clean_environ, stop_process

RACER = Path(__file__).with_name("_racers.py")
HANG_GUARD = 90.0
"""Seconds to wait for a worker's next message before calling it stuck (not a timing check)."""

SETTINGS = """
from pathlib import Path

from trellis.core.django import database_from_env
from trellis.core.testing.settings import *  # noqa: F403

# The deployed profile's database: SQLite in WAL mode with IMMEDIATE transactions, or the URL.
DATABASES = {{"default": database_from_env(data_dir=Path({data_dir!r}), environ={environ!r})}}
"""


class Worker:
    """One ``_racers.py`` process: send it commands, read its events and answers."""

    def __init__(self, name: str, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.log_path = cwd / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(RACER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=cwd,
        )
        self._pending = b""

    def send(self, op: str, **fields: Any) -> None:
        self._write(json.dumps({"op": op, **fields}))

    def go(self) -> None:
        """Release the worker from the synchronisation point it reported."""
        self._write("go")

    def receive(self, stuck: str = "") -> dict[str, Any]:
        """The worker's next message (an event or an answer); ``stuck`` explains a hang."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._pending:
            readable, _, _ = select.select([fd], [], [], HANG_GUARD)
            chunk = os.read(fd, 65536) if readable else b""
            if not chunk:
                state = "exited" if readable else f"sent nothing for {HANG_GUARD:g} s"
                if stuck and not readable:
                    state += f" ({stuck})"
                pytest.fail(f"worker {self.name} {state}; its log:\n{self.log()}", pytrace=False)
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def expect(self, event: str) -> None:
        """Wait until the worker reports ``event`` (it then waits for :meth:`go`)."""
        message = self.receive()
        assert message.get("event") == event, f"{self.name}: expected {event!r}, got {message}"

    def answer(self, stuck: str = "") -> dict[str, Any]:
        """The answer to the last command; no warnings or errors may have been logged."""
        message = self.receive(stuck)
        assert "event" not in message, f"{self.name}: expected an answer, got {message}"
        assert message["logged"] == [], f"{self.name} logged: {message['logged']}"
        return message

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """Run a command that has no synchronisation point; it must succeed."""
        self.send(op, **fields)
        message = self.answer()
        assert message["ok"], f"{self.name} {op}: {message}"
        return message

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def close(self) -> None:
        """End the worker: at the end of its input it exits; one stuck (a failed test) is killed."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            stop_process(self.process, timeout=5)
            self._log.close()

    def _write(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()


def together(a: Worker, b: Worker, event: str = "ready") -> tuple[dict[str, Any], ...]:
    """Wait until both workers report ``event``, release both, return both answers."""
    a.expect(event)
    b.expect(event)
    a.go()
    b.go()
    return a.answer(), b.answer()


@contextmanager
def two_workers(
    tmp_path: Path, blob_root: Path, database_url: str | None, env: dict[str, str] | None = None
) -> Iterator[tuple[Worker, Worker]]:
    """Two workers on one database (``database_url``, else SQLite in ``tmp_path``), migrated."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    (tmp_path / "racer_settings.py").write_text(
        textwrap.dedent(
            SETTINGS.format(
                data_dir=str(tmp_path / "db"),
                environ={"DATABASE_URL": database_url} if database_url else {},
            )
        ),
        encoding="utf-8",
    )
    worker_env = clean_environ(
        {
            "DJANGO_SETTINGS_MODULE": "racer_settings",
            "PYTHONPATH": str(tmp_path),
            "TMPDIR": str(tmp_path / "tmp"),  # the test settings' data directory goes here
            "TRELLIS_BLOBS_ROOT": str(blob_root),
            **(env or {}),
        }
    )
    with ExitStack() as stack:
        workers = []
        for name in ("a", "b"):
            worker = Worker(name, worker_env, tmp_path)
            stack.callback(worker.close)
            workers.append(worker)
        for worker in workers:
            worker.expect("started")
        workers[0].call("migrate")
        yield workers[0], workers[1]


def files_under(root: Path) -> list[str]:
    """Every file under the blob root (content and temporary files alike), relative paths."""
    root = root.resolve()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def s3_objects(server: S3Server, bucket: str, prefix: str) -> dict[str, bytes]:
    """The objects under ``prefix`` in ``bucket``, by name, with their content."""
    client = server.client()
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {
        obj["Key"]: client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        for obj in listing
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """``None`` for SQLite (WAL) in the test's directory, else a fresh PostgreSQL database."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("trellis_postgres_database")
        return url
    return None


@pytest.fixture
def s3_env(server: S3Server, bucket: str, tmp_path: Path) -> dict[str, str]:
    """The s3 provider selected, on the module's moto server, under a prefix of this test's."""
    prefix = f"{tmp_path.name}/"
    return {"TRELLIS_BLOBS_PROVIDER": "s3", **server.env(bucket, prefix=prefix)}


# -- two puts of one key -----------------------------------------------------------------------

PUT_ROUNDS = 8
REFUSED_LATE = re.compile(r"without committed metadata|stored concurrently by another put")
"""``KeyExists`` from the provider's refusal or the unique row, not the pre-check's."""


def race_puts(
    a: Worker, b: Worker, *, rounds: int, size: int, stored: Callable[[str], bytes]
) -> list[str]:
    """``rounds`` races of two puts of one key; check each; return the keys stored.

    Even rounds hold both puts inside the provider's write, all content read, and release
    them together (both passed the metadata pre-check: the provider or the row must refuse
    one); odd rounds release both just before ``put``.
    """
    keys = []
    for n in range(rounds):
        key = f"race/{n}"
        barrier, event = ("end", "writing") if n % 2 == 0 else ("start", "ready")
        a.send("put", key=key, tag=f"a{n}", size=size, barrier=barrier)
        b.send("put", key=key, tag=f"b{n}", size=size, barrier=barrier)
        answers = together(a, b, event)
        winners = [r for r in answers if r["ok"]]
        losers = [r for r in answers if not r["ok"]]
        assert len(winners) == 1, f"round {n} ({barrier}): {answers}"
        assert losers[0]["error"] == "KeyExists", f"round {n} ({barrier}): {losers[0]}"
        if barrier == "end":  # both were past the pre-check: the content or the row refused
            assert REFUSED_LATE.search(losers[0]["message"]), losers[0]["message"]
        winner = winners[0]
        assert winner["info"]["sha256"] == winner["sha256"]
        found = a.call("verify", keys=[key])["blobs"][key]
        assert found["info"] == winner["info"], f"round {n}: the loser's metadata is stored"
        assert found["read_sha256"] == winner["sha256"], f"round {n}: not the winner's content"
        assert found["read_length"] == size
        assert hashlib.sha256(stored(key)).hexdigest() == winner["sha256"]
        keys.append(key)
    return keys


def test_two_puts_of_one_key_on_the_filesystem(
    tmp_path: Path, blob_root: Path, database_url: str | None
) -> None:
    from trellis.blobs.filesystem import path_for

    with two_workers(tmp_path, blob_root, database_url) as (a, b):
        keys = race_puts(
            a,
            b,
            rounds=PUT_ROUNDS,
            size=300_000,
            stored=lambda key: path_for(key, blob_root).read_bytes(),
        )
        assert a.call("keys")["keys"] == sorted(keys)
    # One file per key, no temporary file of the loser left behind.
    assert files_under(blob_root) == sorted(
        str(path_for(key, blob_root).relative_to(blob_root.resolve())) for key in keys
    )


def test_two_puts_of_one_key_on_s3(
    tmp_path: Path, blob_root: Path, server: S3Server, bucket: str, s3_env: dict[str, str]
) -> None:
    # 64 KiB is far below the multipart threshold (8 MiB): each put is one PutObject with
    # If-None-Match: *, which moto's server refuses correctly for the second of two racing
    # writers. Moto may let two concurrent conditional CompleteMultipartUpload calls both
    # succeed (real S3 refuses the second), so multipart sizes would test moto, not us.
    prefix = s3_env["TRELLIS_BLOBS_S3_PREFIX"]
    client = server.client()

    def stored(key: str) -> bytes:
        body: bytes = client.get_object(Bucket=bucket, Key=prefix + key)["Body"].read()
        return body

    with two_workers(tmp_path, blob_root, None, s3_env) as (a, b):
        keys = race_puts(a, b, rounds=PUT_ROUNDS, size=64 * 1024, stored=stored)
        assert a.call("keys")["keys"] == sorted(keys)
    assert sorted(s3_objects(server, bucket, prefix)) == sorted(prefix + key for key in keys)
    assert files_under(blob_root) == []


# -- two expiry runs ---------------------------------------------------------------------------


def expired_count(answer: dict[str, Any]) -> int:
    """The number from ``deleted N expired blob(s) in B batch(es)``."""
    words = answer["output"].split()
    assert words[0] == "deleted", answer
    return int(words[1])


@pytest.mark.postgres
def test_two_expiry_runs_share_the_work(
    tmp_path: Path, blob_root: Path, trellis_postgres_database: str
) -> None:
    from trellis.blobs.filesystem import path_for

    kept = "kept/forever"
    kept_file = [str(path_for(kept, blob_root).relative_to(blob_root.resolve()))]
    with two_workers(tmp_path, blob_root, trellis_postgres_database) as (a, b):
        # 1. a holds its first batch locked (stopped before its DELETE) while b runs: b must
        # skip those rows (SKIP LOCKED) rather than wait for them, and finish everything else.
        total, batch = 60, 10
        a.call("seed", count=total, prefix="first/", keep=kept)
        a.send("expire", batch_size=batch, hold=True)
        a.expect("ready")
        a.go()
        a.expect("holding")
        b.send("expire", batch_size=batch)
        b.expect("ready")
        b.go()
        second = b.answer(stuck="waiting for the rows a holds locked instead of skipping them?")
        a.go()
        first = a.answer()
        assert first["ok"], first
        assert second["ok"], second
        assert first["held"]
        assert (expired_count(first), expired_count(second)) == (batch, total - batch)
        assert a.call("keys")["keys"] == [kept]
        assert files_under(blob_root) == kept_file

        # 2. Both released together over many blobs, small batches: every blob deleted once.
        total = 400
        a.call("seed", count=total, prefix="second/", keep="kept/too")
        a.send("expire", batch_size=5)
        b.send("expire", batch_size=5)
        answers = together(a, b)
        assert all(r["ok"] for r in answers), answers
        counts = [expired_count(r) for r in answers]
        assert sum(counts) == total, counts
        assert a.call("keys")["keys"] == [kept, "kept/too"]
    kept_file.append(str(path_for("kept/too", blob_root).relative_to(blob_root.resolve())))
    assert files_under(blob_root) == sorted(kept_file)


def test_two_expiry_runs_on_sqlite_wait_for_each_other(tmp_path: Path, blob_root: Path) -> None:
    """With the documented SQLite settings (WAL, IMMEDIATE) a second run waits, never fails.

    Without ``transaction_mode="IMMEDIATE"`` the second writer got "database is locked"; the
    blobs system check warns about that configuration (test_checks.py).
    """
    with two_workers(tmp_path, blob_root, None) as (a, b):
        total = 200
        a.call("seed", count=total, prefix="expired/", keep="kept/forever")
        a.send("expire", batch_size=5)
        b.send("expire", batch_size=5)
        answers = together(a, b)
        assert all(r["ok"] for r in answers), answers
        assert sum(expired_count(r) for r in answers) == total
        assert a.call("keys")["keys"] == ["kept/forever"]
    from trellis.blobs.filesystem import path_for

    assert files_under(blob_root) == [
        str(path_for("kept/forever", blob_root).relative_to(blob_root.resolve()))
    ]


# -- a delete racing a read --------------------------------------------------------------------

READ_SIZE = 3 * 1024 * 1024 + 5  # several 1 MiB chunks, below the S3 multipart threshold


@pytest.mark.parametrize("provider", ["filesystem", "s3"])
def test_a_delete_racing_a_read(
    tmp_path: Path, blob_root: Path, provider: str, request: pytest.FixtureRequest
) -> None:
    env: dict[str, str] = {}
    if provider == "s3":
        env = request.getfixturevalue("s3_env")

    with two_workers(tmp_path, blob_root, None, env) as (reader, deleter):

        def stored(key: str) -> str:
            sha256: str = reader.call("store", key=key, tag=key, size=READ_SIZE)["info"]["sha256"]
            return sha256

        # 1. The reader has read its first chunk when the blob is deleted (row and content,
        # committed): it still gets all of the content, verified, or a typed error.
        sha256 = stored("held/stream")
        reader.send("read", key="held/stream", mode="held_stream")
        reader.expect("reading")
        assert deleter.call("delete", key="held/stream", barrier=False)["existed"]
        reader.go()
        got = reader.answer()
        if got["ok"]:
            assert (got["received"], got["sha256"]) == (READ_SIZE, sha256)
        else:
            assert got["typed"], got

        # 2. The reader has the metadata but has not opened the content when the blob is
        # deleted: opening it raises NotFound (what the download view answers with 404).
        stored("held/open")
        reader.send("read", key="held/open", mode="held_open")
        reader.expect("has-info")
        assert deleter.call("delete", key="held/open", barrier=False)["existed"]
        reader.go()
        got = reader.answer()
        assert (got["ok"], got.get("error")) == (False, "NotFound"), got

        # 3. Released together, reading whole (read_bytes) or streaming: the whole content,
        # verified, or NotFound; never part of it, never another error.
        outcomes = []
        for n in range(6):
            key = f"free/{n}"
            sha256 = stored(key)
            reader.send("read", key=key, mode="read_bytes" if n % 2 else "stream")
            deleter.send("delete", key=key)
            got, deleted = together(reader, deleter)
            assert deleted["ok"] and deleted["existed"], deleted
            if got["ok"]:
                assert (got["received"], got["sha256"]) == (READ_SIZE, sha256), got
            else:
                assert got["error"] == "NotFound", got
            outcomes.append("read" if got["ok"] else "not found")
        assert reader.call("keys")["keys"] == []

    # No content left behind (nor a temporary file).
    assert files_under(blob_root) == []
    if provider == "s3":
        server, bucket = request.getfixturevalue("server"), request.getfixturevalue("bucket")
        assert s3_objects(server, bucket, env["TRELLIS_BLOBS_S3_PREFIX"]) == {}
