"""The service side: ``POST <mount>/<contract>/<hook>`` calls the selected provider's hook.

Checked in this order, each refusal a JSON error with a stable code, changing nothing: the
project serves remote calls at all (404 ``not_serving``); the signature, its timestamp and
its nonce (401 ``not_authenticated``, ``bad_signature``, ``expired``, ``replayed``); the
contract is served here (404 ``unknown_contract``) at a version the caller can use (409
``incompatible_contract``); the hook is a remotable hook of it (404 ``unknown_hook``); the
arguments match its type hints (400 ``bad_arguments``). Then the hook runs. A typed error it
raises crosses back by name (422, or 502/503 for a provider failure); anything else is 500
``remote_failed``, logged here with the request id and never described to the caller.
``POST <mount>/<contract>/`` describes what is served (the client's health check).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from trellis.core import (
    ConfigurationError,
    ProviderFailed,
    ProviderUnavailable,
    TrellisError,
    get_host,
)
from trellis.core.django import json_error, request_id

from ._auth import verify
from ._client import ARGS_HEADER, CONTRACT_HEADER, RANGE_HEADER, SERVICE_HEADER, TRACE_HEADER
from ._errors import WireError, error_namespaces, known_errors, public_name
from ._nonces import first_use
from ._settings import ServerSettings, server_settings
from ._wire import HookShape, shape_of

log = logging.getLogger("trellis.remote.server")

MAX_ARGS = 1024 * 1024
BLOCK = 256 * 1024


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.field = status, code, field


class BodyBroken(TrellisError):
    """The request body ended before its ``Content-Length``, or its connection broke."""


class _RequestBody(io.RawIOBase):
    """The request body as the hook's stream: never read whole, and a short body is an error
    (not a shorter blob)."""

    def __init__(self, request: HttpRequest) -> None:
        super().__init__()
        length = request.META.get("CONTENT_LENGTH") or ""
        self.received = 0
        if length.isdigit():
            self.total: int | None = int(length)
            self.source: Any = request  # Django's LimitedStream stops at the length
        elif request.META.get("wsgi.input_terminated"):  # gunicorn: chunked, ends by itself
            self.total = None
            self.source = request.META["wsgi.input"]
        else:
            raise _Refused(
                411,
                "length_required",
                "send Content-Length, or run the service under a server that accepts chunked "
                "bodies (gunicorn)",
            )

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.total is not None and self.received >= self.total:
            return b""
        want = BLOCK if size is None or size < 0 else size
        if self.total is not None:
            want = min(want, self.total - self.received)
        try:
            data = self.source.read(want)
        except Exception as exc:
            raise BodyBroken(
                f"the request body broke off after {self.received} bytes: {type(exc).__name__}"
            ) from exc
        if not data and want and self.total is not None:
            raise BodyBroken(
                f"the request body ended after {self.received} of its {self.total} bytes"
            )
        self.received += len(data)
        return bytes(data)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


def _read_args(request: HttpRequest) -> bytes:
    sent = request.headers.get(ARGS_HEADER)
    if sent is not None:
        return sent.encode("latin-1")
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > MAX_ARGS:
        raise _Refused(413, "too_large", f"the JSON arguments are over {MAX_ARGS} bytes")
    body = _RequestBody(request)
    chunks, total = [], 0
    while chunk := body.read(BLOCK):
        total += len(chunk)
        if total > MAX_ARGS:
            raise _Refused(413, "too_large", f"the JSON arguments are over {MAX_ARGS} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _authenticate(
    request: HttpRequest, settings: ServerSettings, route: str, contract: str, args: bytes
) -> None:
    verdict = verify(
        request.headers.get("Authorization"),
        settings.secrets,
        method=request.method or "",
        path=route,
        contract=contract,
        wanted=request.headers.get(RANGE_HEADER, ""),
        args_sha256=hashlib.sha256(args).hexdigest(),
        max_skew=settings.max_skew,
    )
    if not verdict.ok:
        raise _Refused(401, verdict.code, verdict.reason)
    # Remembered twice the window: a nonce older than that is refused as expired anyway.
    if not first_use(verdict.nonce, 2 * settings.max_skew + 1, settings.nonce_cache):
        raise _Refused(401, "replayed", "this call was already made (its nonce was seen)")


def _shape(contract_name: str, hook: str, wanted: str) -> tuple[HookShape | None, Any]:
    host = get_host()
    contract = host.contracts().get(contract_name)
    if contract is None:
        raise _Refused(404, "unknown_contract", f"contract {contract_name!r} is not installed here")
    try:
        spec = SpecifierSet(wanted)
    except InvalidSpecifier:
        raise _Refused(
            400, "bad_request", f"{RANGE_HEADER} {wanted[:60]!r} is not a version range"
        ) from None
    if not wanted or not spec.contains(Version(contract.version), prereleases=True):
        raise _Refused(
            409,
            "incompatible_contract",
            f"this service runs contract {contract_name!r} {contract.version}; the caller was "
            f"built for {wanted or '(no range sent)'}: upgrade whichever side is older",
        )
    if not hook:
        return None, contract
    if not hook.startswith(f"{contract_name}_") or not host.has_hook(hook):
        raise _Refused(404, "unknown_hook", f"contract {contract_name!r} has no hook {hook!r}")
    caller = getattr(host.plugin_manager.hook, hook)
    try:
        return _shape_of(caller.spec.function, contract), contract
    except TrellisError:
        raise _Refused(404, "unknown_hook", f"hook {hook!r} is not remotable") from None


@functools.lru_cache(maxsize=256)
def _shape_of(function: Any, contract: Any) -> HookShape:
    """``shape_of`` once per hookspec function and contract (it resolves type hints)."""
    return shape_of(function, contract)


@functools.lru_cache(maxsize=64)
def _errors_of(module: str) -> dict[str, type[TrellisError]]:
    """The errors that may cross the wire for a hookspec module, found once (read-only)."""
    return known_errors(error_namespaces(sys.modules[module]))


def _describe(contract: Any) -> JsonResponse:
    host = get_host()
    return JsonResponse(
        {
            "contract": contract.name,
            "version": contract.version,
            "provider": host.selected_provider(contract.name),
            "service": server_settings().name,
        }
    )


def _stream_length(stream: Any) -> int | None:
    try:
        size: int = os.fstat(stream.fileno()).st_size - stream.tell()
        return max(size, 0)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


def _chunks(stream: Any) -> Iterator[bytes]:
    try:
        while chunk := stream.read(BLOCK):
            yield chunk
    finally:
        stream.close()


def _lines(
    items: Iterator[Any], shape: HookShape, errors: dict[str, type[TrellisError]]
) -> Iterator[bytes]:
    assert shape.result_codec is not None
    count = 0
    try:
        for item in items:
            encoded = shape.result_codec.encode(item, f"item {count + 1} of {shape.name}")
            count += 1
            yield json.dumps({"item": encoded}, separators=(",", ":")).encode() + b"\n"
    except Exception as exc:
        log.exception("remote %s failed after %d items", shape.name, count)
        name = public_name(exc, errors)
        message = str(exc) if name else f"the listing failed after {count} items"
        yield json.dumps({"error": {"type": name, "message": message}}).encode() + b"\n"
        return
    finally:
        close = getattr(items, "close", None)
        if callable(close):
            close()
    yield json.dumps({"end": count}).encode() + b"\n"


def _hook_error(
    request: HttpRequest, exc: Exception, shape: HookShape, errors: dict[str, type[TrellisError]]
) -> HttpResponse:
    name = public_name(exc, errors)
    if name is None:
        log.error(
            "remote %s failed (request %s): %s", shape.name, request_id(request), exc, exc_info=exc
        )
        return json_error(
            request,
            500,
            "remote_failed",
            f"the service failed running {shape.name}; quote request id {request_id(request)}",
        )
    status = 422
    headers: dict[str, str] = {}
    if isinstance(exc, ProviderUnavailable):
        status = 503
        headers["Retry-After"] = str(exc.retry_after or 30)
    elif isinstance(exc, ProviderFailed):
        status = 502
    response = json_error(request, status, "hook_error", str(exc), headers=headers)
    body = json.loads(response.content)
    body["error"] = {"type": name, "provider": getattr(exc, "provider", None)}
    response.content = json.dumps(body).encode()
    return response


def _run(
    request: HttpRequest, contract_name: str, hook: str, settings: ServerSettings | None
) -> HttpResponse:
    if request.method != "POST":
        return json_error(
            request, 405, "method_not_allowed", "remote calls are POST", headers={"Allow": "POST"}
        )
    if settings is None:
        return json_error(request, 503, "not_serving", "the service's remote settings are invalid")
    if contract_name not in settings.serve or not settings.secrets:
        return json_error(
            request, 404, "not_serving", f"this service does not serve contract {contract_name!r}"
        )
    route = f"/{contract_name}/{hook}"
    sent_contract = request.headers.get(CONTRACT_HEADER, "")
    try:
        args_raw = _read_args(request)
        _authenticate(request, settings, route, contract_name, args_raw)
        if sent_contract != contract_name:
            raise _Refused(
                400, "bad_request", f"{CONTRACT_HEADER} must name the contract of the URL"
            )
        shape, contract = _shape(contract_name, hook, request.headers.get(RANGE_HEADER, ""))
        if shape is None:
            return _describe(contract)
        try:
            kwargs = shape.decode_args(json.loads(args_raw or b"null"))
        except ValueError as exc:  # WireError is a ValueError too
            raise _Refused(
                400,
                "bad_arguments",
                str(exc) if isinstance(exc, WireError) else ("the arguments are not JSON"),
            ) from None
        if shape.stream_param is not None:
            if request.headers.get(ARGS_HEADER) is None:
                raise _Refused(
                    400,
                    "bad_request",
                    f"{shape.name} streams its {shape.stream_param!r} as the body: send the "
                    f"other arguments as JSON in the {ARGS_HEADER} header",
                )
            kwargs[shape.stream_param] = _RequestBody(request)
    except _Refused as refused:
        if refused.status == 401:
            log.warning(
                "refused remote call %s from %s: %s (%s, request %s)",
                route,
                request.META.get("REMOTE_ADDR", "?"),
                refused.code,
                refused,
                request_id(request),
            )
        return json_error(request, refused.status, refused.code, str(refused), field=refused.field)

    errors = _errors_of(_hookspec_module(shape).__name__)
    try:
        result = get_host().call(shape.name, **kwargs)
    except Exception as exc:
        broken = _body_broken(exc)
        if broken is not None:
            log.warning("remote %s: %s (request %s)", shape.name, broken, request_id(request))
            return json_error(request, 400, "body_broken", str(broken))
        return _hook_error(request, exc, shape, errors)
    if shape.result == "stream":
        length = _stream_length(result)
        response: HttpResponse | StreamingHttpResponse
        if length is not None:
            # A regular file: FileResponse hands it to the server's wsgi.file_wrapper, which
            # gunicorn sends with sendfile(2) instead of copying it through Python.
            response = FileResponse(result, content_type="application/octet-stream")
            response.block_size = BLOCK  # where there is no file_wrapper (4 KiB by default)
            response["Content-Length"] = str(length)
            if response.has_header("Content-Disposition"):  # never a provider's file name
                del response["Content-Disposition"]
        else:
            response = StreamingHttpResponse(
                _chunks(result), content_type="application/octet-stream"
            )
        return response  # type: ignore[return-value]
    if shape.result == "lines":
        return StreamingHttpResponse(  # type: ignore[return-value]
            _lines(iter(result), shape, errors), content_type="application/x-ndjson"
        )
    assert shape.result_codec is not None
    return JsonResponse(
        {"result": shape.result_codec.encode(result, f"the result of {shape.name}")}
    )


def _hookspec_module(shape: HookShape) -> Any:
    function = getattr(get_host().plugin_manager.hook, shape.name).spec.function
    return sys.modules[function.__module__]


def _body_broken(exc: BaseException) -> BodyBroken | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BodyBroken):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


@csrf_exempt
def call(request: HttpRequest, contract: str, hook: str = "") -> HttpResponse:
    """Serve one remote call (see the module docstring)."""
    started = time.perf_counter()
    try:
        settings: ServerSettings | None = server_settings()
    except ConfigurationError as exc:
        log.error("remote call refused: %s", exc)
        settings = None
    response = _run(request, contract, hook, settings)
    if settings is not None:
        response[SERVICE_HEADER] = settings.name
    log.info(
        "served remote %s/%s -> %s in %.1f ms (request %s, %s)",
        contract,
        hook,
        response.status_code,
        (time.perf_counter() - started) * 1000,
        request_id(request),
        request.headers.get(TRACE_HEADER, "no traceparent"),
    )
    return response
