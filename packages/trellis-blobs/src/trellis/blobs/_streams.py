"""Stream adapters: a limiting, hashing reader for writes and a verifying reader for reads.

Content is never held whole in memory: both adapters work chunk by chunk and keep a running
sha256, so a 5 GiB blob costs one chunk of memory however it is written or read.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from ._errors import (
    BlobError,
    BlobIntegrityError,
    BlobTooLarge,
    BlobTruncated,
    provider_errors,
)
from ._types import BlobInfo

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK_SIZE = 1024 * 1024
"""Chunk size for copying and streaming content (1 MiB)."""


class MeteredReader(io.RawIOBase):
    """What a provider's ``blobs_write`` reads: the caller's stream, counted, hashed and capped.

    Reading past ``limit`` raises :class:`BlobTooLarge`; reaching the end before ``length``
    raises :class:`BlobTruncated`. Either way the provider's write fails before the content is
    stored, and the error is kept in :attr:`error` so the facade reports it even if a provider
    wraps it in its own exception. An exception of the caller's stream itself is kept in
    :attr:`source_error`, so it is never mistaken for the provider's failure.
    """

    def __init__(
        self,
        stream: IO[bytes],
        *,
        key: str,
        limit: int,
        length: int | None,
        limit_source: str,
    ) -> None:
        super().__init__()
        self._stream = stream
        self._key = key
        self._limit = limit if length is None else min(limit, length)
        self._length = length
        self._limit_source = limit_source
        self._hash = hashlib.sha256()
        self.count = 0
        self.at_eof = False
        self.error: BlobError | None = None
        self.source_error: Exception | None = None

    @property
    def sha256(self) -> str:
        """Hex sha256 of everything read so far."""
        return self._hash.hexdigest()

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.error is not None:
            raise self.error
        if size is None or size < 0:
            # Never slurp the caller's stream: read up to one byte past the limit, by chunks.
            parts = []
            while chunk := self.read(CHUNK_SIZE):
                parts.append(chunk)
            return b"".join(parts)
        if size == 0:
            return b""
        try:
            data = self._stream.read(size)
            if data is None:  # a non-blocking raw stream with nothing ready
                raise BlobError(
                    f"the stream for blob {self._key!r} is non-blocking; pass a blocking one"
                )
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(
                    f"the stream for blob {self._key!r} returned {type(data).__name__}, not "
                    "bytes; open files in binary mode ('rb')"
                )
        except Exception as exc:
            self.source_error = exc  # the caller's stream failed, not the provider
            raise
        data = bytes(data)
        if not data:
            self.at_eof = True
            if self._length is not None and self.count < self._length:
                self._fail(
                    BlobTruncated(
                        f"the stream for blob {self._key!r} ended after {self.count} bytes; "
                        f"length={self._length} was declared"
                    )
                )
            return b""
        if self.count + len(data) > self._limit:
            if self._length is not None and self._limit == self._length:
                what = f"length={self._length} was declared"
            else:
                what = f"the limit is {self._limit} bytes ({self._limit_source})"
            self._fail(
                BlobTooLarge(
                    f"the stream for blob {self._key!r} is longer than {self._limit} bytes; {what}"
                )
            )
        self.count += len(data)
        self._hash.update(data)
        return data

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def _fail(self, error: BlobError) -> None:
        self.error = error
        raise error


class BlobReader(io.RawIOBase):
    """A blob's content as a readable binary stream, checked against its metadata as it streams.

    ``info`` is the blob's :class:`BlobInfo`. The read that completes the recorded length
    compares the sha256 with the metadata before returning its bytes, so a consumer that stops
    at ``info.length`` has verified content or a :class:`BlobIntegrityError`. Bytes past the
    recorded length raise it on the next read, before they are returned, and so does content
    that ends early. Every chunk but the completing one reaches the consumer before the check:
    one that must not act on bad bytes at all reads small blobs with
    :func:`trellis.blobs.read_bytes` (verified before anything is returned).

    Use it as a context manager, or close it: closing releases the provider's stream.
    """

    def __init__(self, raw: IO[bytes], info: BlobInfo, *, provider: str = "") -> None:
        super().__init__()
        self.info = info
        self._raw = raw
        self._provider = provider
        self._hash = hashlib.sha256()
        self._count = 0
        self._verified = False
        self._error: BlobIntegrityError | None = None

    @property
    def name(self) -> str:
        """The blob's key."""
        return self.info.key

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            return self.readall()
        if size == 0 or self._verified:
            return b""
        if self._error is not None:
            raise self._error
        with provider_errors(self._provider, f"reading blob {self.info.key!r}"):
            data = self._raw.read(size)
        if not data:
            self._verify_end()
            return b""
        if self._count + len(data) > self.info.length:
            self._fail(
                f"holds more than the {self.info.length} bytes its metadata records; the stored "
                "content is damaged or was replaced"
            )
        self._count += len(data)
        self._hash.update(data)
        if self._count == self.info.length:
            self._verify_digest()  # before the chunk that completes the content is returned
        return bytes(data)

    def readall(self) -> bytes:
        parts = []
        while chunk := self.read(CHUNK_SIZE):
            parts.append(chunk)
        return b"".join(parts)

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()

    def _verify_end(self) -> None:
        if self._count != self.info.length:
            self._fail(
                f"ended after {self._count} bytes; its metadata records {self.info.length}: "
                "the stored content is truncated"
            )
        self._verify_digest()  # empty content has no read that completes it
        self._verified = True

    def _verify_digest(self) -> None:
        digest = self._hash.hexdigest()
        if digest != self.info.sha256:
            self._fail(
                f"has sha256 {digest}; its metadata records {self.info.sha256}: the stored "
                "content is damaged"
            )

    def _fail(self, problem: str) -> None:
        where = f" (provider {self._provider!r})" if self._provider else ""
        self._error = BlobIntegrityError(f"blob {self.info.key!r}{where} {problem}")
        raise self._error

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"I/O operation on closed blob reader for {self.info.key!r}")


class HeldBackChunks:
    """Chunks of a :class:`BlobReader`, each released only once the next one has been read.

    The last chunk is held until the end of the content has been verified, so a download of
    damaged content always ends short of its ``Content-Length`` (the client sees a failed
    transfer) instead of delivering every byte of it. Closing closes the reader; Django's
    streaming responses close their iterator when the response is closed.
    """

    def __init__(self, reader: BlobReader, chunk_size: int = CHUNK_SIZE) -> None:
        self._reader = reader
        self._chunk_size = chunk_size
        self._pending: bytes | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._pending is None:
            self._pending = self._reader.read(self._chunk_size)
        if not self._pending:
            self.close()
            raise StopIteration
        following = self._reader.read(self._chunk_size)  # raises at a damaged end
        released, self._pending = self._pending, following
        return released

    def close(self) -> None:
        self._reader.close()


class RangeChunks:
    """Bytes ``start`` to ``stop`` (exclusive) of a provider stream, in chunks; closes it after.

    Seeks when the stream can, else reads and discards up to ``start``. A range cannot be
    checked against the blob's sha256; the response's ETag lets a client check the whole.
    """

    def __init__(
        self,
        raw: IO[bytes],
        start: int,
        stop: int,
        chunk_size: int = CHUNK_SIZE,
        *,
        provider: str = "",
    ) -> None:
        self._raw = raw
        self._provider = provider
        self._remaining = stop - start
        self._chunk_size = chunk_size
        self._start = start
        self._positioned = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if not self._positioned:
            self._position()
        if self._remaining <= 0:
            self.close()
            raise StopIteration
        with provider_errors(self._provider, "reading a range of a blob"):
            data = self._raw.read(min(self._chunk_size, self._remaining))
        if not data:
            self.close()
            raise StopIteration
        self._remaining -= len(data)
        return bytes(data)

    def _position(self) -> None:
        self._positioned = True
        seekable = getattr(self._raw, "seekable", None)
        if self._start and seekable is not None and seekable():
            self._raw.seek(self._start)
            return
        skip = self._start
        while skip > 0:
            data = self._raw.read(min(self._chunk_size, skip))
            if not data:
                break
            skip -= len(data)

    def close(self) -> None:
        self._raw.close()
