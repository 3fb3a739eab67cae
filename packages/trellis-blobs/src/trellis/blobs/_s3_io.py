"""Stream adapters of the S3 provider: a filling, counting upload reader and a seekable download.

Kept apart from :mod:`trellis.blobs.s3` so that module reads as configuration plus the five
hooks. Nothing here imports boto3: the download reader is handed a client.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from ._errors import BlobIntegrityError

READ_BUFFER = 256 * 1024
"""Buffer of the reader returned by ``blobs_open`` (bigger reads go straight to the socket)."""


def read_full(stream: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes from ``stream``, fewer only at end of stream.

    ``read(n)`` of a socket, pipe or request body may return less than ``n`` before the end;
    S3 needs every multipart part but the last to be at least 5 MiB, so parts are filled.
    Pieces are gathered in a ``BytesIO`` whose buffer becomes the result without a copy, so
    a part costs about its own size in memory, not twice that.
    """
    first = stream.read(size)
    if not first or len(first) == size:
        return first or b""
    buffer = io.BytesIO()
    buffer.write(first)
    missing = size - len(first)
    del first
    while missing > 0:
        chunk = stream.read(missing)
        if not chunk:
            break
        buffer.write(chunk)
        missing -= len(chunk)
    return buffer.getvalue()


class UploadReader:
    """What s3transfer reads from: ``head`` (already read) then the rest of ``stream``.

    Every ``read(n)`` returns exactly ``n`` bytes until the end (see :func:`read_full`), and
    :attr:`count` says how many bytes were handed out. The wrapped stream is not closed: the
    ``blobs_write`` caller owns it. It has no ``seek``, so s3transfer treats it as a
    non-seekable stream and buffers at most ``max_in_memory_upload_chunks`` parts. ``head``
    is handed over without a copy when it is read whole (it is the first part), and not
    referenced afterwards.
    """

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head: bytes | None = head
        self._offset = 0
        self._stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._from_head(size)
        if size is None or size < 0:
            data += self._stream.read()
        elif len(data) < size:
            data += read_full(self._stream, size - len(data))
        self.count += len(data)
        return data

    def _from_head(self, size: int) -> bytes:
        head = self._head
        if head is None:
            return b""
        left = len(head) - self._offset
        if size is not None and 0 <= size < left:
            self._offset += size
            return head[self._offset - size : self._offset]
        self._head = None
        return head if self._offset == 0 else head[self._offset :]


class S3ObjectReader(io.RawIOBase):
    """A seekable, read-only view of one S3 object, streaming from a ``GetObject`` body.

    The first body comes from ``blobs_open`` (which has already mapped a missing key to
    ``NotFound``). Seeking drops the current body; the next read asks for ``Range:
    bytes=<pos>-`` with ``If-Match: <etag>``, so a reader never mixes two versions of an
    object. Closing closes the body, returning or discarding its HTTP connection.
    """

    def __init__(
        self, client: Any, bucket: str, key: str, response: dict[str, Any], *, name: str
    ) -> None:
        super().__init__()
        self._client = client
        self._bucket = bucket
        self._key = key
        self._body: Any = response["Body"]
        self._size: int = int(response["ContentLength"])
        self._etag: str | None = response.get("ETag")
        self._pos = 0
        self.name = name

    @property
    def size(self) -> int:
        """The object's length in bytes."""
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence!r}; use io.SEEK_SET, SEEK_CUR or SEEK_END")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        if target != self._pos:
            self._drop_body()
            self._pos = target
        return self._pos

    def readinto(self, buffer: Any) -> int:
        self._check_open()
        view = memoryview(buffer).cast("B")
        if not len(view) or self._pos >= self._size:
            return 0
        if self._body is None:
            self._body = self._get_range(self._pos)
        data: bytes = self._body.read(len(view))
        if not data:
            raise BlobIntegrityError(
                f"S3 object {self._key!r} in bucket {self._bucket!r} ended at byte "
                f"{self._pos}; its length is {self._size}"
            )
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def readall(self) -> bytes:
        self._check_open()
        if self._pos >= self._size:
            return b""
        if self._body is None:
            self._body = self._get_range(self._pos)
        data: bytes = self._body.read()
        self._pos += len(data)
        if self._pos < self._size:
            raise BlobIntegrityError(
                f"S3 object {self._key!r} in bucket {self._bucket!r} ended at byte "
                f"{self._pos}; its length is {self._size}"
            )
        return data

    def close(self) -> None:
        if not self.closed:
            self._drop_body()
        super().close()

    def _drop_body(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.close()

    def _get_range(self, start: int) -> Any:
        extra = {"IfMatch": self._etag} if self._etag else {}
        try:
            response = self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-", **extra
            )
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in {"PreconditionFailed", "412"}:
                raise BlobIntegrityError(
                    f"S3 object {self._key!r} in bucket {self._bucket!r} was replaced while "
                    "it was being read; open it again"
                ) from exc
            raise
        return response["Body"]

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed blob reader")


def open_reader(raw: S3ObjectReader) -> io.BufferedReader:
    """``raw`` behind a read buffer: a ``BinaryIO`` with ``read``, ``readline``, ``seek``..."""
    return io.BufferedReader(raw, buffer_size=READ_BUFFER)
