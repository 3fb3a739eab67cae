"""The ``s3`` blobs provider: content in an S3 bucket (AWS, MinIO, Ceph, moto...).

Select it with ``TRELLIS_BLOBS_PROVIDER=s3`` and install ``trellis-blobs[s3]`` (boto3).
boto3 is imported on first use, so this module imports, and the plugin loads, without it.

Settings are read on every call, each from the environment first, then from Django settings
of the same name (the provider choice itself is read once per process):

========================================  ===================================================
``TRELLIS_BLOBS_S3_BUCKET``               bucket name (required)
``TRELLIS_BLOBS_S3_PREFIX``               folder in the bucket, e.g. ``trellis/blobs`` (none)
``TRELLIS_BLOBS_S3_REGION``               region (``us-east-1``)
``TRELLIS_BLOBS_S3_ENDPOINT_URL``         endpoint of an S3-compatible server (AWS)
``TRELLIS_BLOBS_S3_ADDRESSING_STYLE``     ``auto``, ``path`` or ``virtual`` (``auto``)
``TRELLIS_BLOBS_S3_ACCESS_KEY_ID``        both or neither; without them boto3's own
``TRELLIS_BLOBS_S3_SECRET_ACCESS_KEY``    chain (``AWS_ACCESS_KEY_ID``, profiles, roles)
``TRELLIS_BLOBS_S3_MULTIPART_THRESHOLD``  multipart from this length on (``8MiB``)
``TRELLIS_BLOBS_S3_MULTIPART_CHUNKSIZE``  part size, at least 5 MiB (``8MiB``)
``TRELLIS_BLOBS_S3_MAX_CONCURRENCY``      parts uploaded at once per write (``3``)
``TRELLIS_BLOBS_S3_CONDITIONAL_WRITES``   create with ``If-None-Match: *`` (on)
``TRELLIS_BLOBS_S3_CONNECT_TIMEOUT``      seconds to open a connection (``5``)
``TRELLIS_BLOBS_S3_READ_TIMEOUT``         seconds a request may wait for data (``30``)
``TRELLIS_BLOBS_S3_MAX_ATTEMPTS``         attempts per request, retries included (``3``)
========================================  ===================================================

A request that times out on every attempt raises ``BlobStoreTimeout``; an unreachable
endpoint or a connection broken mid-body ``BlobStoreUnavailable`` (both answer 503 at the
download endpoint); any other failure ``BlobProviderFailed`` (502). With the defaults a hung
server is given up on after at most about 3 x (5 + 30) seconds, not botocore's 60 s per read
and 5 attempts.

One boto3 client is kept per distinct connection configuration and process. Secrets never
appear in ``repr``, logs or error messages. Choosing providers and moving between them:
shared-docs/blobs-providers.md.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from types import ModuleType
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

from trellis.core import ConfigurationError, hookimpl

from . import hookspecs
from ._errors import KeyExists, NotFound
from ._keys import validate_key
from ._s3_io import S3ObjectReader, UploadReader, open_reader, read_full
from ._settings import parse_size, setting
from ._types import StoredBlob

TRELLIS_IMPLEMENTS = {"blobs": ">=1.0,<2"}
TRELLIS_PROVIDES = {"blobs": "s3"}
TRELLIS_HOOKSPECS = [hookspecs]

__all__ = ["S3Settings", "clear_clients", "load_settings"]

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MIN_PART = 5 * MiB
"""S3's smallest allowed multipart part (except the last)."""
DEFAULT_PART_SIZE = 8 * MiB
DEFAULT_CONCURRENCY = 3
"""Parts of one write uploaded at once. A large write holds about ``(this + 2)`` parts in
memory; 3 keeps a 256 MiB upload under 64 MiB of peak RSS growth with 8 MiB parts (4 measured
61-67 MiB, glibc's per-thread arenas included)."""
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_MAX_ATTEMPTS = 3
"""Attempts per request, the first included (botocore's ``standard`` retry mode)."""
SCAN_PAGE_SIZE = 1000
"""Keys per ``ListObjectsV2`` request of ``blobs_scan`` (S3's maximum)."""
PREFIX = "TRELLIS_BLOBS_S3_"
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_EXISTS_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class S3Settings:
    """The resolved configuration of the S3 provider (see the module docstring)."""

    bucket: str
    prefix: str = ""
    region: str = "us-east-1"
    endpoint_url: str | None = None
    addressing_style: str = "auto"
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    multipart_threshold: int = DEFAULT_PART_SIZE
    multipart_chunksize: int = DEFAULT_PART_SIZE
    max_concurrency: int = DEFAULT_CONCURRENCY
    conditional_writes: bool = True
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def object_key(self, key: str) -> str:
        """The S3 object key holding blob ``key``."""
        return self.prefix + key

    @property
    def where(self) -> str:
        """Bucket and endpoint, for messages (the endpoint without any user:password part)."""
        endpoint = _safe_url(self.endpoint_url) if self.endpoint_url else "AWS"
        return f"bucket {self.bucket!r} at {endpoint}"


def load_settings() -> S3Settings:
    """Read the provider's settings: environment first, then Django settings.

    :raises ConfigurationError: ``TRELLIS_BLOBS_S3_BUCKET`` is missing, or a value is unusable
        (the message names the setting; secret values are never shown).
    """
    bucket = _text("BUCKET")
    if not bucket:
        raise ConfigurationError(
            "the s3 blobs provider needs a bucket: set TRELLIS_BLOBS_S3_BUCKET (environment "
            "or Django setting) to the name of an existing bucket"
        )
    key_id, secret = _text("ACCESS_KEY_ID"), _text("SECRET_ACCESS_KEY")
    if bool(key_id) != bool(secret):
        missing = PREFIX + ("SECRET_ACCESS_KEY" if key_id else "ACCESS_KEY_ID")
        raise ConfigurationError(
            f"{missing} is not set but its pair is; set both, or neither to use boto3's "
            "credential chain (AWS_ACCESS_KEY_ID, profiles, instance roles...)"
        )
    style = (_text("ADDRESSING_STYLE") or "auto").lower()
    if style not in {"auto", "path", "virtual"}:
        raise ConfigurationError(
            f"TRELLIS_BLOBS_S3_ADDRESSING_STYLE must be auto, path or virtual; found {style!r}"
        )
    prefix = (_text("PREFIX") or "").strip("/")
    if prefix:
        try:
            validate_key(prefix)
        except ValueError as exc:
            raise ConfigurationError(f"TRELLIS_BLOBS_S3_PREFIX is not usable: {exc}") from None
        prefix += "/"
    return S3Settings(
        bucket=bucket,
        prefix=prefix,
        region=_text("REGION") or "us-east-1",
        endpoint_url=_text("ENDPOINT_URL"),
        addressing_style=style,
        access_key_id=key_id,
        secret_access_key=secret,
        multipart_threshold=_number("MULTIPART_THRESHOLD", DEFAULT_PART_SIZE, minimum=1),
        multipart_chunksize=_number("MULTIPART_CHUNKSIZE", DEFAULT_PART_SIZE, minimum=MIN_PART),
        max_concurrency=_number("MAX_CONCURRENCY", DEFAULT_CONCURRENCY, minimum=1),
        conditional_writes=_flag("CONDITIONAL_WRITES", default=True),
        connect_timeout=_seconds("CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
        read_timeout=_seconds("READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
        max_attempts=_attempts(),
    )


def _text(name: str) -> str | None:
    value = setting(PREFIX + name)
    return None if value is None else str(value).strip()


def _number(name: str, default: int, *, minimum: int) -> int:
    value = setting(PREFIX + name)
    if value is None:
        return default
    number = parse_size(value, PREFIX + name)
    if number < minimum:
        raise ConfigurationError(f"{PREFIX}{name} must be at least {minimum}; found {value!r}")
    return number


def _seconds(name: str, default: float) -> float:
    value = setting(PREFIX + name)
    if value is None:
        return default
    try:
        seconds = float(str(value).strip())
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise ConfigurationError(
            f"{PREFIX}{name} must be a number of seconds above 0 and at most 3600; found {value!r}"
        )
    return seconds


def _attempts() -> int:
    value = setting(PREFIX + "MAX_ATTEMPTS")
    if value is None:
        return DEFAULT_MAX_ATTEMPTS
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 10):
        raise ConfigurationError(
            f"{PREFIX}MAX_ATTEMPTS must be a whole number from 1 to 10; found {value!r}"
        )
    return int(text)


def _flag(name: str, *, default: bool) -> bool:
    value = setting(PREFIX + name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ConfigurationError(
        f"{PREFIX}{name} must be a boolean (1/0, true/false, yes/no, on/off); found {value!r}"
    )


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


# -- boto3, lazily -------------------------------------------------------------------------------


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"the s3 blobs provider needs boto3, which is not installed ({exc}); "
            "install trellis-blobs[s3]: pip install 'trellis-blobs[s3]'"
        ) from None


_clients: dict[tuple[object, ...], Any] = {}
_checked: set[tuple[tuple[object, ...], str]] = set()
_clients_lock = threading.Lock()


def clear_clients() -> None:
    """Forget cached clients (after rotating credentials in place, or in tests)."""
    with _clients_lock:
        _clients.clear()
        _checked.clear()


def _client(settings: S3Settings) -> Any:
    """The cached boto3 client for ``settings`` in this process; the first use checks the bucket.

    Settings that only change object names or transfers (bucket, prefix, part sizes) share a
    client. Keyed by process id too: a client created before a fork (gunicorn ``--preload``)
    would share its connection pool with the children.
    """
    cache_key = (
        os.getpid(),
        settings.endpoint_url,
        settings.region,
        settings.addressing_style,
        settings.access_key_id,
        settings.secret_access_key,
        settings.conditional_writes,
        settings.max_concurrency,
        settings.connect_timeout,
        settings.read_timeout,
        settings.max_attempts,
    )
    client = _clients.get(cache_key)
    if client is not None and (cache_key, settings.bucket) in _checked:
        return client
    with _clients_lock:  # creating a client does no network I/O
        client = _clients.get(cache_key)
        if client is None:
            client = _clients[cache_key] = _new_client(settings)
    # The bucket check is a request: never under the lock, so a hung endpoint cannot stall
    # every other thread's client look-up. Two threads may both check once; that is harmless.
    if (cache_key, settings.bucket) not in _checked:
        _check_bucket(client, settings)
        with _clients_lock:
            _checked.add((cache_key, settings.bucket))
    return client


def _new_client(settings: S3Settings) -> Any:
    boto3 = _import("boto3")
    config = _import("botocore.config").Config(
        region_name=settings.region,
        s3={"addressing_style": settings.addressing_style},
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_pool_connections=max(10, settings.max_concurrency * 2),
    )
    session = boto3.session.Session()  # sessions are not thread-safe: one per client
    log.debug("creating S3 client for %s, region %s", settings.where, settings.region)
    client = session.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        config=config,
    )
    if settings.conditional_writes:
        # Keys are immutable: every object this client creates is created only if absent
        # (``If-None-Match: *``), for single PUTs and for completing multipart uploads alike.
        # s3transfer does not pass IfNoneMatch through upload_fileobj, so add it here, on a
        # client no one else uses.
        for operation in ("PutObject", "CompleteMultipartUpload"):
            client.meta.events.register(f"before-parameter-build.s3.{operation}", _create_only)
    return client


def _create_only(params: dict[str, Any], **_kwargs: Any) -> None:
    params.setdefault("IfNoneMatch", "*")


def _check_bucket(client: Any, settings: S3Settings) -> None:
    """Fail early, naming the setting, when the bucket is missing or nothing can reach it.

    Without this a missing bucket looks like missing keys (``HeadObject`` answers 404 either
    way). A 403 is let through: credentials may allow object access but not ``HeadBucket``.
    """
    exceptions = _import("botocore.exceptions")
    try:
        client.head_bucket(Bucket=settings.bucket)
    except exceptions.NoCredentialsError:
        raise ConfigurationError(
            f"no AWS credentials found for the s3 blobs provider ({settings.where}): set "
            "TRELLIS_BLOBS_S3_ACCESS_KEY_ID and TRELLIS_BLOBS_S3_SECRET_ACCESS_KEY, or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or configure a profile or role"
        ) from None
    except exceptions.ClientError as exc:
        status = _status(exc)
        if status == 404 or _code(exc) == "NoSuchBucket":
            raise ConfigurationError(
                f"{settings.where} does not exist; create it or fix TRELLIS_BLOBS_S3_BUCKET"
            ) from None
        if status not in {401, 403}:
            raise


def _code(exc: BaseException) -> str:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(exc: BaseException) -> int | None:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _is_not_found(exc: BaseException) -> bool:
    return _code(exc) in _NOT_FOUND_CODES


def _transfer_config(settings: S3Settings) -> Any:
    config = _import("boto3.s3.transfer").TransferConfig(
        multipart_threshold=settings.multipart_threshold,
        multipart_chunksize=settings.multipart_chunksize,
        max_concurrency=settings.max_concurrency,
        preferred_transfer_client="classic",
    )
    # A non-seekable upload holds this many parts, plus about two being read (s3transfer's
    # default is 10: over 80 MiB with 8 MiB parts); as many as threads keeps them all busy.
    config.max_in_memory_upload_chunks = settings.max_concurrency
    return config


# -- hooks ---------------------------------------------------------------------------------------


@hookimpl
def blobs_write(key: str, stream: BinaryIO) -> int:
    """Upload ``stream``: one ``PutObject`` below the multipart threshold, else multipart.

    Either way the object appears only once complete; a failed multipart upload (the stream
    raising included) is aborted, so no parts are left behind. Memory: at most the threshold
    for a single PUT, about ``max_concurrency + 1`` parts for a multipart upload.

    :raises KeyExists: an object already has the key (conditional writes on).
    """
    settings = load_settings()
    client = _client(settings)
    object_key = settings.object_key(key)
    head = read_full(stream, settings.multipart_threshold)
    try:
        if len(head) < settings.multipart_threshold:
            client.put_object(Bucket=settings.bucket, Key=object_key, Body=head)
            return len(head)
        reader = UploadReader(head, stream)
        del head
        client.upload_fileobj(
            reader, settings.bucket, object_key, Config=_transfer_config(settings)
        )
    except Exception as exc:
        if _code(exc) in _EXISTS_CODES:
            raise KeyExists(
                f"content is already stored under key {key!r} in {settings.where}; keys are "
                "immutable"
            ) from None
        raise
    return reader.count


@hookimpl
def blobs_open(key: str) -> BinaryIO:
    """A buffered, seekable reader streaming the object; ``NotFound`` when there is none."""
    settings = load_settings()
    client = _client(settings)
    object_key = settings.object_key(key)
    try:
        response = client.get_object(Bucket=settings.bucket, Key=object_key)
    except Exception as exc:
        if _is_not_found(exc):
            raise NotFound(f"no blob {key!r} in {settings.where}") from None
        raise
    raw = S3ObjectReader(client, settings.bucket, object_key, response, name=key)
    return open_reader(raw)


@hookimpl
def blobs_exists(key: str) -> bool:
    """``HeadObject``: whether the object exists."""
    settings = load_settings()
    client = _client(settings)
    try:
        client.head_object(Bucket=settings.bucket, Key=settings.object_key(key))
    except Exception as exc:
        if _is_not_found(exc):
            return False
        raise
    return True


@hookimpl
def blobs_delete(key: str) -> bool:
    """``HeadObject``, then ``DeleteObject`` (which answers alike whether or not it existed)."""
    if not blobs_exists(key):
        return False
    settings = load_settings()
    _client(settings).delete_object(Bucket=settings.bucket, Key=settings.object_key(key))
    return True


@hookimpl
def blobs_scan() -> Iterator[StoredBlob]:
    """``ListObjectsV2`` page by page (:data:`SCAN_PAGE_SIZE` keys each) under the prefix.

    Objects whose names are not valid blob keys (folder markers such as ``photos/``, anything
    else sharing the bucket) are not blobs of this store and are left out.
    """
    settings = load_settings()
    return _scan(_client(settings), settings)


def _scan(client: Any, settings: S3Settings) -> Iterator[StoredBlob]:
    paginator = client.get_paginator("list_objects_v2")
    skip = len(settings.prefix)
    pages = paginator.paginate(
        Bucket=settings.bucket,
        Prefix=settings.prefix,
        PaginationConfig={"PageSize": SCAN_PAGE_SIZE},
    )
    for page in pages:
        for item in page.get("Contents", ()):
            key = item["Key"][skip:]
            try:
                validate_key(key)
            except ValueError:
                log.debug("blobs_scan: skipping S3 object %r, not a blob key", item["Key"])
                continue
            modified = item["LastModified"].astimezone(UTC)
            yield StoredBlob(key=key, length=int(item["Size"]), modified=modified)
