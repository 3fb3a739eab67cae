"""Typed errors of the blobs subsystem; each message names the key or value at fault."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from trellis.core import ConfigurationError, ProviderFailed, ProviderUnavailable, TrellisError


class BlobError(TrellisError):
    """Base class of every blobs error."""


class InvalidKey(BlobError, ValueError):
    """A key is malformed or could escape the provider's storage (``..``, ``/x``, NUL...)."""


class NotFound(BlobError, KeyError):
    """No blob is stored under the key."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "blob not found"


class KeyExists(BlobError):
    """A blob already exists under the key; keys are immutable (delete first)."""


class BlobTooLarge(BlobError):
    """The content is longer than the limit (``TRELLIS_BLOBS_MAX_SIZE`` or ``length``)."""


class BlobTruncated(BlobError):
    """The stream ended before the declared ``length``."""


class BlobIntegrityError(BlobError):
    """Stored content no longer matches its metadata (length or sha256)."""


class BlobProviderFailed(BlobError, ProviderFailed):
    """The blob store answered with an error or broke mid-answer (a disk I/O error, an S3 500).

    The HTTP edge answers ``502 provider_failed``. ``__cause__`` holds the provider's own error.
    """


class BlobStoreUnavailable(BlobProviderFailed, ProviderUnavailable):
    """The blob store could not be reached or timed out; retrying later may work.

    The HTTP edge answers ``503 provider_unavailable`` with ``Retry-After``.
    """


class BlobStoreTimeout(BlobStoreUnavailable):
    """The blob store did not answer in time (``TRELLIS_BLOBS_S3_CONNECT_TIMEOUT`` or
    ``_READ_TIMEOUT`` for S3, after its retries); retrying later may work (503)."""


_TIMEOUT_BOTOCORE = ("ConnectTimeoutError", "ReadTimeoutError")
_UNAVAILABLE_BOTOCORE = (
    "EndpointConnectionError",
    "ConnectionClosedError",
    "IncompleteReadError",  # the connection broke in the middle of a body
    "ResponseStreamingError",
)


def _botocore(exc: BaseException, names: tuple[str, ...]) -> bool:
    botocore = sys.modules.get("botocore.exceptions")  # never imported: not a botocore error
    return botocore is not None and isinstance(
        exc, tuple(getattr(botocore, name) for name in names if hasattr(botocore, name))
    )


def _failure_kind(exc: BaseException) -> type[BlobProviderFailed]:
    if isinstance(exc, TimeoutError) or _botocore(exc, _TIMEOUT_BOTOCORE):
        return BlobStoreTimeout
    if isinstance(exc, ConnectionError) or _botocore(exc, _UNAVAILABLE_BOTOCORE):
        return BlobStoreUnavailable
    return BlobProviderFailed


def provider_failure(exc: Exception, provider: str, action: str) -> BlobProviderFailed:
    """The typed error for a provider's own failure ``exc`` (raise it ``from exc``).

    Timeouts give :class:`BlobStoreTimeout`; connections refused, reset or broken mid-body
    :class:`BlobStoreUnavailable`; anything else :class:`BlobProviderFailed`.
    """
    kind = _failure_kind(exc)
    return kind(f"provider {provider!r} failed while {action}: {describe(exc)}", provider=provider)


@contextmanager
def provider_errors(provider: str | Callable[[], str], action: str) -> Iterator[None]:
    """Re-raise a provider's own failure as a typed blobs error (``BlobError`` and a
    ``ConfigurationError`` of its settings pass through as they are).

    :param provider: the provider's name, or a function giving it (called only on failure).
    :param action: what was being done, e.g. ``"opening blob 'k'"``.
    """
    try:
        yield
    except (BlobError, ConfigurationError):  # typed already, or the settings' fault
        raise
    except Exception as exc:
        name = provider if isinstance(provider, str) else provider()
        raise provider_failure(exc, name, action) from exc


_USERINFO = re.compile(r"(?<=://)[^/?#@\s]*@")
"""The ``user:password@`` of a URL: botocore names the endpoint URL it could not reach."""


def describe(exc: BaseException) -> str:
    """``Type: message`` on one line, at most 300 characters, without credentials in URLs."""
    message = _USERINFO.sub("", " ".join(str(exc).split()))
    if len(message) > 300:
        message = message[:297] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
