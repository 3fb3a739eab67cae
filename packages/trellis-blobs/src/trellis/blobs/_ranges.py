"""Parsing of the HTTP ``Range`` header (RFC 9110 section 14), single byte ranges only."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*")  # OWS is space or tab


class RangeNotSatisfiable(Exception):
    """The range lies wholly outside the content: answer 416."""


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``stop`` (exclusive) of content of ``length`` bytes."""

    start: int
    stop: int
    length: int

    @property
    def content_range(self) -> str:
        """The ``Content-Range`` header value."""
        return f"bytes {self.start}-{self.stop - 1}/{self.length}"


def parse_range(header: str | None, length: int) -> ByteRange | None:
    """The single byte range ``header`` asks for, or ``None`` to send the whole content.

    As RFC 9110 allows, a header that is malformed, names another unit or asks for several
    ranges is ignored (the whole content is sent). So is a suffix range of empty content: it is
    satisfiable (section 14.1.1) but has no byte a ``Content-Range`` could name.

    :raises RangeNotSatisfiable: the range starts at or beyond the end of the content, or asks
        for the last 0 bytes.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip(" \t").lower() != "bytes" or "," in spec:  # str.strip() takes any space
        return None
    match = _SPEC.fullmatch(spec)
    if match is None or not (match[1] or match[2]):
        return None
    first, last = match[1], match[2]
    if not first:  # suffix range: the last N bytes
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable
        if length == 0:
            return None
        return ByteRange(max(0, length - suffix), length, length)
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignore
    if start >= length:
        raise RangeNotSatisfiable
    stop = length if not last else min(int(last) + 1, length)
    return ByteRange(start, stop, length)
