"""The HTTP edge: request ids, JSON errors and who counts as a monitor.

Every response carries ``X-Request-ID``; every error under an API mount (``UrlMount(...,
api=True)``) is JSON ``{"code", "message", "field", "request_id"}``, whatever produced it: a
view's own error, a 404 for an unknown path, a CSRF refusal, an unexpected exception. Raw
exception text reaches staff only; everyone else gets a stable code and the request id to
quote.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

from .._context import current_request_id
from .._errors import ProviderFailed
from .._loader import describe_exception
from ._settings import setting

log = logging.getLogger("trellis.core.edge")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "server_error",
    502: "provider_failed",
    503: "unavailable",
}
_View = TypeVar("_View", bound=Callable[..., Any])
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After", "Content-Range", REQUEST_ID_HEADER)


def valid_request_id(value: str | None) -> bool:
    """Whether a client-sent ``X-Request-ID`` is kept: 1 to 128 of ``[A-Za-z0-9._:-]``."""
    return value is not None and _REQUEST_ID.fullmatch(value) is not None


def request_id(request: HttpRequest) -> str:
    """The id of ``request``: the client's valid ``X-Request-ID``, else a new random one."""
    existing: str | None = getattr(request, "trellis_request_id", None)
    if existing is None:
        sent = request.headers.get(REQUEST_ID_HEADER)
        existing = sent if sent is not None and valid_request_id(sent) else uuid.uuid4().hex
        request.trellis_request_id = existing  # type: ignore[attr-defined]
    return existing


def is_staff(request: HttpRequest) -> bool:
    """Whether the request comes from an active staff user (who may see raw error text).

    ``False`` when the user cannot be loaded (the session store is the thing failing).
    """
    try:
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_active and user.is_staff)
    except Exception:
        return False


def monitoring_token(environ: Mapping[str, str] | None = None) -> str:
    """``TRELLIS_MONITORING_TOKEN`` from the environment, else the Django setting; ``""``."""
    return setting("TRELLIS_MONITORING_TOKEN", environ=environ)


def is_monitor(request: HttpRequest) -> bool:
    """Active staff, or ``Authorization: Bearer <TRELLIS_MONITORING_TOKEN>`` when one is set."""
    if is_staff(request):
        return True
    token = monitoring_token()
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    return bool(
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(sent.strip().encode(), token.encode())
    )


def json_error(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JsonResponse:
    """An API error: ``{"code", "message", "field", "request_id"}`` with ``status``."""
    body = {"code": code, "message": message, "field": field, "request_id": request_id(request)}
    response = JsonResponse(body, status=status, headers=dict(headers or {}))
    response["Cache-Control"] = "no-store"
    return response


def api_view(view: _View) -> _View:
    """Mark a view outside any API mount as an API: its errors are JSON too (``/health``)."""
    view.trellis_api = True  # type: ignore[attr-defined]
    return view


def protocol_view(view: _View) -> _View:
    """Mark a view under an API mount whose errors follow a protocol of their own (OpenRosa's
    XML): its responses are left as it gives them. An unexpected exception in it is still
    answered as JSON (500, logged with the request id)."""
    view.trellis_protocol = True  # type: ignore[attr-defined]
    return view


class EdgeMiddleware:
    """Request ids everywhere; JSON errors (and one log line per failure) on API paths.

    Added to ``MIDDLEWARE`` by trellis-core's built-in plugin.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        from ._compose import api_prefixes

        self.get_response = get_response
        self.api = api_prefixes()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        rid = request_id(request)
        token = current_request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        if (
            response.status_code >= 400
            and self.is_api(request)
            and not getattr(request, "trellis_protocol", False)
        ):
            response = self._as_json(request, response)
        response[REQUEST_ID_HEADER] = rid
        return response

    def is_api(self, request: HttpRequest) -> bool:
        """Whether the request's path lies under an API mount, or its view is an API view."""
        if getattr(request, "trellis_api", False):
            return True
        return request.path_info.startswith(self.api) if self.api else False

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> None:
        """Remember that the resolved view is an :func:`api_view` or a :func:`protocol_view`."""
        if getattr(view, "trellis_api", False):
            request.trellis_api = True  # type: ignore[attr-defined]
        if getattr(view, "trellis_protocol", False):
            request.trellis_protocol = True  # type: ignore[attr-defined]

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Answer an unexpected exception on an API path as JSON, logged once with its id."""
        if not self.is_api(request):
            return None
        from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
        from django.http import Http404

        if isinstance(exception, (Http404, PermissionDenied, BadRequest, SuspiciousOperation)):
            return None  # Django answers these; __call__ turns its page into JSON
        rid = request_id(request)
        staff = is_staff(request)
        headers: dict[str, str] = {}
        if isinstance(exception, ProviderFailed):
            status, code = exception.status, exception.code
            provider = f"provider {exception.provider!r}" if exception.provider else "a provider"
            if exception.retry_after is not None:
                headers["Retry-After"] = str(exception.retry_after)
                message = f"{provider} is unavailable; retry after {exception.retry_after} s"
            else:
                message = f"{provider} failed while answering; retry later"
            log.warning(
                "request %s %s %s: %s", rid, request.method, request.path, exception, exc_info=True
            )
        else:
            status, code = 500, "server_error"
            message = f"internal error; quote request id {rid}"
            log.error(
                "request %s %s %s failed: %s",
                rid,
                request.method,
                request.path,
                describe_exception(exception),
                exc_info=exception,
            )
        if staff:
            message = f"{message} ({describe_exception(exception)})"
        response = json_error(request, status, code, message, headers=headers)
        response._has_been_logged = True  # type: ignore[attr-defined]  # Django logs it otherwise
        return response

    def _as_json(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.streaming or not isinstance(response, HttpResponse):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return self._with_request_id(request, response)
        status = response.status_code
        reason = response.reason_phrase or "error"
        code = _CODES.get(status, f"http_{status}")
        message = {
            403: "forbidden: log in with the right permissions (or a CSRF token for a form)",
            404: f"no API resource at {request.path!r}",
        }.get(status, reason.lower())
        headers = {h: response[h] for h in _KEPT_HEADERS if h in response}
        replacement = json_error(request, status, code, message, headers=headers)
        if getattr(response, "_has_been_logged", False):
            replacement._has_been_logged = True  # type: ignore[attr-defined]
        return replacement

    @staticmethod
    def _with_request_id(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            body: Any = json.loads(response.content)
        except ValueError:
            return response
        if isinstance(body, dict) and "code" in body and "request_id" not in body:
            body["request_id"] = request_id(request)
            response.content = json.dumps(body).encode()
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response
