"""The contract suite's helpers: a failed write counts only if the stream's failure caused it."""

from __future__ import annotations

import pytest

from trellis.blobs.testing import BlobsContract, PatternStream, StreamFailure


class Host:
    """Just enough of a host: ``blobs_write`` runs ``write``."""

    def __init__(self, write) -> None:
        self.write = write

    def call(self, hook: str, **kwargs: object) -> object:
        assert hook == "blobs_write"
        return self.write(**kwargs)


def drain(stream: PatternStream) -> None:
    while stream.read(65_536):
        pass


def failing_stream() -> PatternStream:
    return PatternStream(1_000_000, fail_after=100_000)


def test_a_write_that_lets_the_stream_failure_through_passes():
    def write(key, stream):
        drain(stream)

    BlobsContract.assert_write_fails(Host(write), "k", failing_stream())


def test_a_write_that_wraps_the_stream_failure_passes():
    def write(key, stream):
        try:
            drain(stream)
        except StreamFailure as exc:
            raise OSError("upload failed") from exc

    BlobsContract.assert_write_fails(Host(write), "k", failing_stream())


def test_a_write_that_hides_the_stream_failure_it_hit_passes():
    def write(key, stream):
        try:
            drain(stream)
        except StreamFailure:
            raise OSError("upload failed") from None

    stream = failing_stream()
    BlobsContract.assert_write_fails(Host(write), "k", stream)
    assert stream.failure is not None


def test_a_write_failing_for_another_reason_fails_the_test():
    def write(key, stream):
        stream.read(1000)
        raise ConnectionError("the store is down")

    with pytest.raises(pytest.fail.Exception, match=r"'k'.*ConnectionError.*the store is down"):
        BlobsContract.assert_write_fails(Host(write), "k", failing_stream())


def test_a_write_that_returns_fails_the_test():
    with pytest.raises(pytest.fail.Exception, match="returned although its stream raised"):
        BlobsContract.assert_write_fails(Host(lambda key, stream: 0), "k", failing_stream())
