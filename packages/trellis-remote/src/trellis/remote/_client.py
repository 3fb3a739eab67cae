"""The client: calls a remotable hook on the service that serves its contract.

One pooled urllib3 manager and one circuit breaker per service (per settings), shared by the
threads of a process. Every call is signed, carries a request id and a W3C ``traceparent``,
and has a connect and a read timeout. Calls the hookspec marks safe (reads) are retried with
exponential backoff while the service cannot be reached; others are never retried (their
stream cannot be replayed, and the first try may have taken effect).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import re
import secrets
import threading
import time
import types
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, NewConnectionError, ReadTimeoutError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from trellis.core import Contract, get_host, request_id

from ._auth import authorization
from ._breaker import CircuitBreaker
from ._errors import (
    IncompatibleContract,
    RemoteError,
    RemoteRefused,
    RemoteTimeout,
    RemoteUnavailable,
    WireError,
    error_namespaces,
    known_errors,
    rebuild,
)
from ._settings import ClientSettings, client_settings
from ._wire import HookShape, client_range

log = logging.getLogger("trellis.remote.client")

CONTRACT_HEADER = "Trellis-Contract"
RANGE_HEADER = "Trellis-Contract-Range"
ARGS_HEADER = "Trellis-Args"
SERVICE_HEADER = "Trellis-Service"
REQUEST_ID_HEADER = "X-Request-ID"
TRACE_HEADER = "traceparent"
BLOCK = 256 * 1024
MAX_JSON = 16 * 1024 * 1024
_HEX32 = re.compile(r"[0-9a-f]{32}")


class _SendTimeout:
    """A connection that sends its request under ``send_timeout`` (the read timeout).

    urllib3 leaves the *connect* timeout on the socket until the whole request is sent
    (urllib3#857): an upload the service pauses reading for longer than the connect timeout
    would fail although the read timeout allows the pause.
    """

    send_timeout: float | None = None
    sock: Any
    connect: Any

    def send(self, data: Any) -> None:
        if self.sock is None:
            self.connect()  # under the connect timeout
        self.sock.settimeout(self.send_timeout)
        super().send(data)  # type: ignore[misc]


def _pool_classes(send_timeout: float) -> dict[str, type[HTTPConnectionPool]]:
    def pool(base: type[HTTPConnectionPool], connection: type[HTTPConnection]) -> Any:
        sending = type(
            connection.__name__, (_SendTimeout, connection), {"send_timeout": send_timeout}
        )
        return type(base.__name__, (base,), {"ConnectionCls": sending})

    return {
        "http": pool(HTTPConnectionPool, HTTPConnection),
        "https": pool(HTTPSConnectionPool, HTTPSConnection),
    }


class _Service:
    """The pool and breaker of one service (one :class:`ClientSettings`)."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.pool = urllib3.PoolManager(num_pools=4, maxsize=16, block=False, blocksize=BLOCK)
        self.pool.pool_classes_by_scheme = _pool_classes(settings.read_timeout)
        self.breaker = CircuitBreaker(failures=settings.failures, reset=settings.reset)
        self.name = ""  # learned from the service's answers

    @property
    def label(self) -> str:
        return (
            f"service {self.name!r} at {self.settings.url}"
            if self.name
            else (f"the service at {self.settings.url}")
        )


_services: dict[ClientSettings, _Service] = {}
_services_lock = threading.Lock()


def _service(settings: ClientSettings) -> _Service:
    found = _services.get(settings)
    if found is None:
        with _services_lock:
            found = _services.setdefault(settings, _Service(settings))
    return found


def trace_headers() -> dict[str, str]:
    """``X-Request-ID`` (the current request's, else a new one) and a ``traceparent``."""
    rid = request_id() or uuid.uuid4().hex
    trace = rid if _HEX32.fullmatch(rid) else hashlib.sha256(rid.encode()).hexdigest()[:32]
    return {REQUEST_ID_HEADER: rid, TRACE_HEADER: f"00-{trace}-{secrets.token_hex(8)}-01"}


class _Body(io.RawIOBase):
    """The caller's stream as a request body: remembers the caller's own failure."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self.stream = stream
        self.failure: BaseException | None = None
        self.sent = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            data = self.stream.read(BLOCK if size is None or size < 0 else size)
        except BaseException as exc:
            self.failure = exc
            raise
        self.sent += len(data)
        return bytes(data)


def _known_length(stream: BinaryIO) -> int | None:
    """Bytes left in a seekable stream, else ``None`` (sent chunked)."""
    try:
        if not stream.seekable():
            return None
        here = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(here)
        return max(end - here, 0)
    except (OSError, ValueError, AttributeError):
        return None


class RemoteClient:
    """Answers the remotable hooks of one contract by calling the service that serves it."""

    def __init__(
        self,
        hookspecs: types.ModuleType,
        contract: Contract,
        shapes: Mapping[str, HookShape],
        provider: str = "remote",
    ) -> None:
        self.contract = contract
        self.shapes = dict(shapes)
        self.provider = provider
        self.wanted = client_range(contract)
        self.errors = known_errors(error_namespaces(hookspecs))

    # -- calling ------------------------------------------------------------------------------

    def call(self, hook: str, kwargs: Mapping[str, Any]) -> Any:
        """Call ``hook`` on the service with ``kwargs``; return what the hook returned there."""
        shape = self.shapes[hook]
        args = json.dumps(shape.encode_args(kwargs), separators=(",", ":")).encode("ascii")
        stream = kwargs[shape.stream_param] if shape.stream_param else None
        response, service = self._send(f"{hook}", args, stream, safe=shape.safe)
        if shape.result == "stream":
            return RemoteStream(response, service, self._rid(response), hook)
        if shape.result == "lines":
            return self._lines(response, service, shape)
        body = self._json(response, service, hook)
        assert shape.result_codec is not None
        try:
            return shape.result_codec.decode(body.get("result"), f"the result of {hook}")
        except WireError as exc:
            what = f"{hook}'s answer breaks the contract: {exc}"
            raise self._broken(service, response, what) from None

    def describe(self) -> dict[str, Any]:
        """What the service says it serves for this contract (version, provider, hooks)."""
        response, service = self._send("", b"{}", None, safe=True)
        body: dict[str, Any] = self._json(response, service, "describe")
        return body

    def state(self) -> tuple[ClientSettings, _Service]:
        settings = client_settings(self.contract.name)
        return settings, _service(settings)

    def _send(
        self, hook: str, args: bytes, stream: BinaryIO | None, *, safe: bool
    ) -> tuple[urllib3.BaseHTTPResponse, _Service]:
        settings, service = self.state()
        route = f"{self.contract.name}/{hook}"
        url = settings.url + route
        attempts = settings.attempts if safe else 1
        timeout = urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout)
        for attempt in range(1, attempts + 1):
            allowed, trial = service.breaker.allow()
            if not allowed:
                wait = service.breaker.retry_in()
                raise RemoteUnavailable(
                    f"{service.label} is failing (circuit open after "
                    f"{service.breaker.snapshot().failures} failures in a row: "
                    f"{service.breaker.snapshot().last_error}); calls fail at once for "
                    f"{wait:.1f} s more, then one trial call goes through",
                    service=service.name or settings.url,
                    code="circuit_open",
                )
            headers = {
                CONTRACT_HEADER: self.contract.name,
                RANGE_HEADER: self.wanted,
                "Authorization": authorization(
                    settings.secret,
                    "POST",
                    "/" + route,
                    self.contract.name,
                    self.wanted,
                    hashlib.sha256(args).hexdigest(),
                ),
                **trace_headers(),
            }
            body: Any
            chunked = False
            if stream is not None:
                headers[ARGS_HEADER] = args.decode("ascii")
                headers["Content-Type"] = "application/octet-stream"
                length = _known_length(stream)
                body = _Body(stream)
                if length is None:
                    chunked = True
                else:
                    headers["Content-Length"] = str(length)
            else:
                headers["Content-Type"] = "application/json"
                body = args
            started = time.perf_counter()
            rid = headers[REQUEST_ID_HEADER]
            try:
                response = service.pool.urlopen(
                    "POST",
                    url,
                    body=body,
                    headers=headers,
                    chunked=chunked,
                    timeout=timeout,
                    retries=False,
                    redirect=False,
                    preload_content=False,
                )
            except BaseException as exc:
                if isinstance(body, _Body) and body.failure is not None:
                    service.breaker.finished(trial)
                    raise body.failure from None  # the caller's own stream failed: its error
                if not isinstance(exc, (HTTPError, OSError)):
                    service.breaker.finished(trial)
                    raise
                error = _transport_error(exc, service, rid, f"calling {route}")
                service.breaker.failed(trial, str(error))
                log.warning("remote call %s failed (request %s): %s", route, rid, error)
                if attempt < attempts:
                    time.sleep(_backoff(attempt))
                    continue
                raise error from exc
            service.name = response.headers.get(SERVICE_HEADER, service.name)[:100]
            log.info(
                "remote call %s -> %s in %.1f ms (request %s, %s)",
                route,
                response.status,
                (time.perf_counter() - started) * 1000,
                rid,
                headers[TRACE_HEADER],
            )
            if response.status == 200:
                # A call succeeds when its answer has arrived whole (_json, RemoteStream and
                # _lines say so); a trial is judged by its headers, as a stream may be read
                # slowly or never to its end.
                if trial:
                    service.breaker.succeeded(trial)
                return response, service
            failure = self._failure(response, service, rid, route)
            if isinstance(failure, RemoteUnavailable) or (
                isinstance(failure, RemoteError) and not isinstance(failure, RemoteRefused)
            ):
                service.breaker.failed(trial, str(failure))
                if isinstance(failure, RemoteUnavailable) and attempt < attempts:
                    time.sleep(_backoff(attempt))
                    continue
            else:
                service.breaker.succeeded(trial)
            if isinstance(failure, IncompatibleContract):
                self._quarantine(str(failure))
            raise failure
        raise AssertionError("unreachable")  # pragma: no cover

    # -- answers ------------------------------------------------------------------------------

    @staticmethod
    def _rid(response: urllib3.BaseHTTPResponse) -> str | None:
        value = response.headers.get(REQUEST_ID_HEADER)
        return str(value) if value else None

    def _json(self, response: urllib3.BaseHTTPResponse, service: _Service, hook: str) -> Any:
        whole = False
        try:
            raw = _read_limited(response, MAX_JSON)
            whole = True
        except (HTTPError, OSError) as exc:
            error = _transport_error(exc, service, self._rid(response), f"reading {hook}")
            service.breaker.failed(False, str(error))
            raise error from exc
        except ValueError as exc:
            raise self._broken(service, response, f"its answer to {hook}: {exc}") from None
        finally:
            # Back to the pool only when read to its end; otherwise the next call would read
            # the rest of this answer.
            if whole:
                response.release_conn()
            else:
                response.close()
        try:
            body = json.loads(raw)
        except ValueError:
            raise RemoteError(
                f"{service.label} answered {hook} with something that is not JSON",
                service=service.name,
                request_id=self._rid(response),
            ) from None
        if not isinstance(body, dict):
            raise RemoteError(
                f"{service.label} answered {hook} with JSON that is not an object",
                service=service.name,
                request_id=self._rid(response),
            )
        service.breaker.succeeded(False)
        return body

    def _broken(
        self, service: _Service, response: urllib3.BaseHTTPResponse, what: str
    ) -> RemoteError:
        """The error of an answer that does not follow the wire contract (a 200 at that)."""
        rid = self._rid(response)
        return RemoteError(
            f"{service.label}: {what} (request id {rid})",
            service=service.name or service.settings.url,
            request_id=rid,
            code="bad_answer",
        )

    def _failure(
        self, response: urllib3.BaseHTTPResponse, service: _Service, rid: str, route: str
    ) -> Exception:
        """The exception a non-200 answer stands for (a typed hook error when it is one)."""
        status = response.status
        try:
            raw = _read_limited(response, 64 * 1024)
            body = json.loads(raw)
        except (HTTPError, OSError, ValueError):
            body = {}
        finally:
            response.close()
        if not isinstance(body, dict):
            body = {}
        code = str(body.get("code") or f"http_{status}")
        message = str(body.get("message") or response.reason or "no message")
        rid = str(body.get("request_id") or self._rid(response) or rid)
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            typed = rebuild(error["type"], message, error.get("provider"), self.errors)
            if typed is not None:
                typed.remote_request_id = rid  # type: ignore[attr-defined]
                return typed
        where = (
            f"{service.label} refused {route}"
            if status < 500
            else (f"{service.label} failed {route}")
        )
        text = f"{where}: {message} ({code}, request id {rid})"
        kind: type[RemoteError]
        if code == "incompatible_contract":
            kind = IncompatibleContract
        elif status in (502, 503, 504):
            kind = RemoteUnavailable
        elif status < 500:
            kind = RemoteRefused
        else:
            kind = RemoteError
        return kind(text, service=service.name or service.settings.url, request_id=rid, code=code)

    def _lines(
        self, response: urllib3.BaseHTTPResponse, service: _Service, shape: HookShape
    ) -> Iterator[Any]:
        assert shape.result_codec is not None
        rid = self._rid(response)
        count = 0
        buffer = b""
        finished = False
        try:
            chunks = response.stream(BLOCK, decode_content=False)
            while True:
                try:
                    chunk = next(chunks, b"")
                except (HTTPError, OSError) as exc:
                    service.breaker.failed(False, str(exc))
                    raise _transport_error(exc, service, rid, f"listing {shape.name}") from exc
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    try:
                        item = json.loads(line)
                    except ValueError:
                        item = None
                    if not isinstance(item, dict):
                        raise self._broken(
                            service,
                            response,
                            f"{shape.name} sent {line[:60]!r}, not a line of JSON",
                        )
                    if "end" in item:
                        if item["end"] != count:
                            break
                        service.breaker.succeeded(False)
                        # The end line can come before the chunked body's terminator: read to
                        # the very end before the connection goes back to the pool, or the
                        # next call on it reads the terminator as its status line.
                        finished = not buffer.strip() and _rest_is_empty(chunks)
                        return
                    if "error" in item:
                        raise self._line_error(item["error"], service, rid, shape)
                    count += 1
                    try:
                        decoded = shape.result_codec.decode(
                            item.get("item"), f"item {count} of {shape.name}"
                        )
                    except WireError as exc:
                        what = f"its answer breaks the contract: {exc}"
                        raise self._broken(service, response, what) from None
                    yield decoded
            if not finished:
                raise RemoteUnavailable(
                    f"{service.label} ended the {shape.name} listing early, after {count} "
                    f"items (request id {rid})",
                    service=service.name,
                    request_id=rid,
                )
        finally:
            if finished:
                response.release_conn()
            else:
                response.close()

    def _line_error(
        self, error: Any, service: _Service, rid: str | None, shape: HookShape
    ) -> Exception:
        error = error if isinstance(error, dict) else {}
        message = str(error.get("message") or "the listing failed")
        typed = rebuild(str(error.get("type") or ""), message, error.get("provider"), self.errors)
        if typed is not None:
            return typed
        return RemoteError(
            f"{service.label} failed during {shape.name}: {message} (request id {rid})",
            service=service.name,
            request_id=rid,
        )

    def _quarantine(self, reason: str) -> None:
        try:
            host = get_host()
            plugin = host.providers(self.contract.name).get(self.provider)
            if plugin is not None:
                host.quarantine(plugin, reason)
        except Exception:  # strict mode raises here; the call still fails with the reason
            log.exception("could not quarantine the %r remote provider", self.contract.name)


class RemoteStream(io.RawIOBase):
    """The body of a streamed result, read as the service sends it.

    A connection that breaks or stalls mid-body raises :class:`RemoteUnavailable`
    (:class:`RemoteTimeout`); closing before the end drops the connection instead of
    returning it to the pool.
    """

    def __init__(
        self, response: urllib3.BaseHTTPResponse, service: _Service, rid: str | None, hook: str
    ) -> None:
        super().__init__()
        self._response = response
        self._service = service
        self._rid = rid
        self._hook = hook
        self._done = False
        length = response.headers.get("Content-Length")
        self.length = int(length) if length and length.isdigit() else None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read of a closed remote stream")
        if self._done:
            return b""
        try:
            data = self._response.read(None if size is None or size < 0 else size)
        except (HTTPError, OSError) as exc:
            self._service.breaker.failed(False, str(exc))
            raise _transport_error(exc, self._service, self._rid, f"reading {self._hook}") from exc
        if not data and (size is None or size != 0):
            self._done = True
            self._service.breaker.succeeded(False)
        return bytes(data)

    def close(self) -> None:
        if not self.closed:
            if self._done:
                self._response.release_conn()
            else:
                self._response.close()
        super().close()


def _rest_is_empty(chunks: Iterator[bytes]) -> bool:
    """Read what is left of an answer; ``True`` when it ended cleanly with nothing more."""
    try:
        return not any(chunk.strip() for chunk in chunks)
    except (HTTPError, OSError):
        return False


def _read_limited(response: urllib3.BaseHTTPResponse, limit: int) -> bytes:
    chunks, total = [], 0
    while chunk := response.read(BLOCK):
        total += len(chunk)
        if total > limit:
            raise ValueError(f"answer longer than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _transport_error(
    exc: BaseException, service: _Service, rid: str | None, action: str
) -> RemoteUnavailable:
    """The typed error of a connection that failed, timed out or broke while ``action``."""
    # urllib3's NewConnectionError (refused, unreachable) subclasses its ConnectTimeoutError.
    timed_out = not isinstance(exc, NewConnectionError) and (
        isinstance(exc, (Urllib3Timeout, ReadTimeoutError, TimeoutError)) or "timed out" in str(exc)
    )
    kind = RemoteTimeout if timed_out else RemoteUnavailable
    what = "did not answer in time" if timed_out else "could not be reached or broke off"
    reason = " ".join(str(exc).split())[:300]
    return kind(
        f"{service.label} {what} while {action} (request id {rid}): {type(exc).__name__}: {reason}",
        service=service.name or service.settings.url,
        request_id=rid,
        code="remote_timeout" if timed_out else "remote_unavailable",
    )


def _backoff(attempt: int) -> float:
    """0.1 s, 0.2 s, 0.4 s... with jitter, at most 2 s."""
    return float(min(2.0, 0.1 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))  # noqa: S311
