"""The ``blobs`` contract suite: what every blobs provider must do, as pytest tests.

Run it against a provider by subclassing it in a ``Test*`` class (needs pytest and
``trellis-core[testing]``)::

    from trellis.blobs.testing import BlobsContract

    class TestMyStore(BlobsContract):
        provider = "mystore"
        plugins = [my_store_plugin]      # in-process; or discover = True when installed

        def provider_settings(self, tmp_path):
            return {"MYSTORE_URL": "memory://"}   # environment for each test

The tests talk to the provider only through ``contract_host.call("blobs_...")``, so they check
the hooks themselves, not the facade; no database is needed. ``contract_host`` is also the
process-wide host while a test runs.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from trellis.core import Host
from trellis.core.testing import ContractSuite

from ._errors import KeyExists, NotFound
from ._types import StoredBlob

__all__ = ["BlobsContract", "PatternStream", "StreamFailure"]

MiB = 1024 * 1024


class PatternStream(io.RawIOBase):
    """``size`` bytes of a repeating pattern, generated chunk by chunk (never held whole).

    :param fail_after: raise :class:`StreamFailure` once this many bytes have been handed out
        (the error raised is kept in :attr:`failure`).
    :param max_read: hand out at most this many bytes per ``read`` (short reads, as sockets do).
    """

    def __init__(
        self, size: int, *, fail_after: int | None = None, max_read: int | None = None
    ) -> None:
        super().__init__()
        self.size = size
        self.position = 0
        self.fail_after = fail_after
        self.max_read = max_read
        self.failure: StreamFailure | None = None
        """The :class:`StreamFailure` this stream raised, once it has."""
        self._block = bytes(range(256)) * (MiB // 256 + 1)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("a provider must read in chunks, not read() the whole stream")
        if self.fail_after is not None and self.position >= self.fail_after:
            self.failure = StreamFailure(f"the stream broke after {self.position} bytes")
            raise self.failure
        size = min(size, MiB, self.size - self.position, self.max_read or size)
        if self.fail_after is not None:
            size = min(size, self.fail_after - self.position)
        start = self.position % 256
        data = self._block[start : start + max(size, 0)]
        self.position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    @classmethod
    def digest(cls, size: int) -> str:
        """The sha256 of ``PatternStream(size)``'s content, computed by streaming it."""
        stream, digest = cls(size), hashlib.sha256()
        while chunk := stream.read(MiB):
            digest.update(chunk)
        return digest.hexdigest()


class StreamFailure(Exception):
    """Raised by a :class:`PatternStream` told to fail."""


class BlobsContract(ContractSuite):
    """Tests every ``blobs`` provider must pass; subclass it with ``provider = "<name>"``.

    Override :meth:`provider_settings` to configure the provider for each test (it runs before
    :meth:`make_host`), and :attr:`large_size` for a slower store.
    """

    contract = "blobs"
    large_size: ClassVar[int] = 20 * MiB
    """Size of the streamed payload of :meth:`test_large_streamed_payload_round_trips`."""
    race_size: ClassVar[int] = 2 * MiB
    """Size of each payload of :meth:`test_concurrent_writes_of_one_key_keep_one`: below the
    usual 8 MiB multipart threshold, because moto's test server does not serialise conditional
    ``CompleteMultipartUpload`` (two concurrent multipart uploads of a key can both succeed
    there; real S3 refuses the second)."""
    multipart_failure_at: ClassVar[int] = 9 * MiB
    """Where a stream breaks in :meth:`test_stream_failing_late_leaves_nothing` (past the
    usual 8 MiB multipart threshold, so a failed multipart upload is covered)."""

    def provider_settings(self, tmp_path: Path) -> Mapping[str, str]:
        """Environment variables set for each test, before the host is built.

        The default points the filesystem provider at a fresh directory.
        """
        return {"TRELLIS_BLOBS_ROOT": str(tmp_path / "blobs")}

    @pytest.fixture(autouse=True)
    def _provider_environment(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in self.provider_settings(tmp_path).items():
            monkeypatch.setenv(name, value)

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def write(host: Host, key: str, content: bytes) -> int:
        written: int = host.call("blobs_write", key=key, stream=io.BytesIO(content))
        return written

    @staticmethod
    def read(host: Host, key: str) -> bytes:
        with host.call("blobs_open", key=key) as stream:
            chunks = []
            while chunk := stream.read(MiB):
                chunks.append(chunk)
            return b"".join(chunks)

    @staticmethod
    def scan(host: Host) -> dict[str, StoredBlob]:
        return {blob.key: blob for blob in host.call("blobs_scan")}

    @staticmethod
    def assert_write_fails(host: Host, key: str, stream: PatternStream) -> None:
        """The write raises because ``stream`` raised its :class:`StreamFailure`.

        The provider may let that error through or wrap it (it is then in the raised error's
        ``__cause__``/``__context__`` chain, or hidden with ``from None``); what counts is that
        the stream was read up to its failure. A write failing for another reason first fails
        the test.
        """
        try:
            host.call("blobs_write", key=key, stream=stream)
        except Exception as exc:
            if stream.failure is not None:
                return
            pytest.fail(
                f"blobs_write of {key!r} raised {type(exc).__name__}: {exc}, before its stream "
                f"failed (it read {stream.position} of the {stream.fail_after} bytes the stream "
                "gives before failing)"
            )
        pytest.fail(f"blobs_write of {key!r} returned although its stream raised")

    def assert_absent(self, host: Host, key: str) -> None:
        assert host.call("blobs_exists", key=key) is False
        with pytest.raises(NotFound):
            host.call("blobs_open", key=key).close()
        assert key not in self.scan(host)

    # -- the contract -------------------------------------------------------------------------

    def test_write_then_open_round_trips_bytes(self, contract_host: Host) -> None:
        content = b"hello, blobs\n" * 100
        assert self.write(contract_host, "contract/hello.txt", content) == len(content)
        assert self.read(contract_host, "contract/hello.txt") == content

    def test_every_byte_value_survives(self, contract_host: Host) -> None:
        content = bytes(range(256)) * 17 + b"\r\n\x00\x1a\xff"
        self.write(contract_host, "contract/binary.bin", content)
        assert self.read(contract_host, "contract/binary.bin") == content

    def test_empty_content(self, contract_host: Host) -> None:
        assert self.write(contract_host, "contract/empty", b"") == 0
        assert contract_host.call("blobs_exists", key="contract/empty") is True
        assert self.read(contract_host, "contract/empty") == b""
        assert self.scan(contract_host)["contract/empty"].length == 0

    def test_large_streamed_payload_round_trips(self, contract_host: Host) -> None:
        size = self.large_size
        stream = PatternStream(size)
        assert contract_host.call("blobs_write", key="contract/large", stream=stream) == size
        digest, total = hashlib.sha256(), 0
        with contract_host.call("blobs_open", key="contract/large") as reader:
            while chunk := reader.read(MiB):
                digest.update(chunk)
                total += len(chunk)
        assert total == size
        assert digest.hexdigest() == PatternStream.digest(size)

    def test_short_reads_are_not_mistaken_for_the_end(self, contract_host: Host) -> None:
        stream = PatternStream(100_000, max_read=1000)
        assert contract_host.call("blobs_write", key="contract/short", stream=stream) == 100_000
        assert self.read(contract_host, "contract/short") == PatternStream(100_000).read(100_000)

    def test_open_gives_independent_streams(self, contract_host: Host) -> None:
        self.write(contract_host, "contract/twice", b"0123456789")
        with (
            contract_host.call("blobs_open", key="contract/twice") as first,
            contract_host.call("blobs_open", key="contract/twice") as second,
        ):
            assert first.read(4) == b"0123"
            assert second.read() == b"0123456789"
            assert first.read() == b"456789"

    def test_keys_that_nest_like_paths_do_not_collide(self, contract_host: Host) -> None:
        keys = {"a": b"1", "a/b": b"2", "a/b/c.d": b"3", "a.b/-_": b"4", "A": b"5"}
        for key, content in keys.items():
            self.write(contract_host, key, content)
        for key, content in keys.items():
            assert self.read(contract_host, key) == content

    def test_exists_and_delete(self, contract_host: Host) -> None:
        self.write(contract_host, "contract/gone", b"x")
        assert contract_host.call("blobs_exists", key="contract/gone") is True
        assert contract_host.call("blobs_delete", key="contract/gone") is True
        self.assert_absent(contract_host, "contract/gone")
        assert contract_host.call("blobs_delete", key="contract/gone") is False

    def test_missing_key(self, contract_host: Host) -> None:
        self.assert_absent(contract_host, "contract/never-written")
        assert contract_host.call("blobs_delete", key="contract/never-written") is False

    def test_key_can_be_written_again_after_delete(self, contract_host: Host) -> None:
        self.write(contract_host, "contract/again", b"old")
        contract_host.call("blobs_delete", key="contract/again")
        self.write(contract_host, "contract/again", b"new")
        assert self.read(contract_host, "contract/again") == b"new"

    def test_stream_failing_early_leaves_nothing(self, contract_host: Host) -> None:
        stream = PatternStream(10 * MiB, fail_after=100_000)
        self.assert_write_fails(contract_host, "contract/broken", stream)
        self.assert_absent(contract_host, "contract/broken")

    def test_stream_failing_late_leaves_nothing(self, contract_host: Host) -> None:
        size = self.multipart_failure_at
        stream = PatternStream(size + 4 * MiB, fail_after=size)
        self.assert_write_fails(contract_host, "contract/broken-late", stream)
        self.assert_absent(contract_host, "contract/broken-late")

    def test_scan_lists_what_was_written(self, contract_host: Host) -> None:
        written = {"contract/scan/1": b"a", "contract/scan/2": b"bb", "contract/scan-3": b""}
        for key, content in written.items():
            self.write(contract_host, key, content)
        self.write(contract_host, "contract/scan/deleted", b"x")
        contract_host.call("blobs_delete", key="contract/scan/deleted")

        result = contract_host.call("blobs_scan")
        assert isinstance(result, Iterator), "blobs_scan must return a lazy iterator"
        listed = {blob.key: blob for blob in result}
        for key, content in written.items():
            assert key in listed, f"blobs_scan did not list {key!r}"
            assert listed[key].length == len(content)
            modified = listed[key].modified
            assert isinstance(modified, datetime)
            assert modified.tzinfo is not None, "StoredBlob.modified must be timezone-aware"
        assert "contract/scan/deleted" not in listed

    @staticmethod
    def race_writes(host: Host, key: str, contents: list[bytes]) -> list[object]:
        """Write each of ``contents`` under ``key`` from its own thread, all started together.

        Returns each write's outcome: the length it reports, or the exception it raised. The
        threads meet at a barrier and stream in 64 KiB reads, so the writes overlap.
        """
        barrier = threading.Barrier(len(contents))
        outcomes: list[object] = [None] * len(contents)

        def write(index: int) -> None:
            stream = io.BufferedReader(io.BytesIO(contents[index]), buffer_size=64 * 1024)
            barrier.wait()
            try:
                outcomes[index] = host.call("blobs_write", key=key, stream=stream)
            except Exception as exc:
                outcomes[index] = exc

        threads = [threading.Thread(target=write, args=(i,)) for i in range(len(contents))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        return outcomes

    def test_concurrent_writes_of_one_key_keep_one(self, contract_host: Host) -> None:
        """Two threads write one key at once, five times: one wins, the other gets KeyExists.

        The stored content is the winner's, whole.
        """
        for round_ in range(5):
            key = f"contract/race/{round_}"
            contents = [bytes([65 + i]) * self.race_size for i in range(2)]
            outcomes = self.race_writes(contract_host, key, contents)
            winners = [i for i, outcome in enumerate(outcomes) if outcome == self.race_size]
            losers = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, KeyExists)]
            assert len(winners) == 1, f"round {round_}: {outcomes!r}"
            assert len(losers) == 1, f"round {round_}: {outcomes!r}"
            assert self.read(contract_host, key) == contents[winners[0]]
