"""Reading receiver requests: size and media type checks, JSON and multipart bodies.

Kept out of the views so they stay thin; everything here raises :class:`FormsError`
subclasses that the views answer as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFilesSent,
)
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from trellis.core.django import request_id

from . import _settings
from ._errors import (
    FieldError,
    FormsError,
    MalformedRequest,
    TooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from ._ids import is_valid
from ._receiving import Attachment
from .selectors import DEFAULT_LIMIT, MAX_LIMIT, CaseQuery

ENVELOPE_KEYS = ("form", "version", "id", "data")
MAX_OFFSET = 2**62


@dataclass
class Envelope:
    """A parsed receiver request."""

    form: Any
    submission_id: Any
    data: Any
    version: Any = None
    attachments: list[Attachment] = field(default_factory=list)


def error_response(request: HttpRequest, exc: FormsError) -> JsonResponse:
    """The JSON answer for ``exc``: ``{"code", "message", "field", "request_id"}`` and, for
    422, ``errors``: ``[{"field", "rule", "message"}]``."""
    body: dict[str, Any] = {
        "code": exc.code,
        "message": exc.message,
        "field": exc.field,
        "request_id": request_id(request),
    }
    if isinstance(exc, ValidationFailed):
        body["errors"] = [e.as_dict() for e in exc.errors]
    response = JsonResponse(body, status=exc.status)
    response["Cache-Control"] = "no-store"
    return response


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes, what: str) -> Any:
    """``raw`` as JSON (UTF-8); ``NaN``/``Infinity`` refused.

    :raises MalformedRequest: with the parser's position.
    """
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise MalformedRequest(f"{what} is nested too deeply", field=what) from None
    except ValueError as exc:
        raise MalformedRequest(f"{what} is not valid JSON: {exc}", field=what) from None


def _envelope(value: Any) -> Envelope:
    if not isinstance(value, dict):
        raise ValidationFailed(
            "the submission must be a JSON object with 'form', 'id' and 'data'",
            [FieldError("", "type", f"expected an object; got {type(value).__name__}")],
        )
    errors = [
        FieldError(f"/{key}", "required", f"'{key}' is required")
        for key in ("form", "id", "data")
        if key not in value
    ]
    errors += [
        FieldError(
            "/" + str(key).replace("~", "~0").replace("/", "~1"),
            "additionalProperties",
            f"unknown member {str(key)!r:.80}; the submission has form, version, id, data",
        )
        for key in value
        if key not in ENVELOPE_KEYS
    ]
    if errors:
        raise ValidationFailed("the submission is invalid", errors)
    return Envelope(value["form"], value["id"], value["data"], value.get("version"))


def check_length(request: HttpRequest) -> int:
    """Refuse a body over ``TRELLIS_FORMS_MAX_BODY`` by its ``Content-Length``, before anything
    reads it; return the limit.

    :raises TooLarge: naming the length and the limit.
    """
    limit = _settings.max_body()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise MalformedRequest("Content-Length is not a number", field="Content-Length") from None
    if length > limit:
        raise TooLarge(
            f"the body is {length} bytes; the limit is {limit} bytes (TRELLIS_FORMS_MAX_BODY)",
            field="Content-Length",
        )
    return limit


def read_submission(request: HttpRequest) -> Envelope:
    """The submission in a receiver request (JSON, or multipart with a ``submission`` part).

    :raises TooLarge: ``Content-Length`` over ``TRELLIS_FORMS_MAX_BODY`` (checked before reading).
    :raises UnsupportedMediaType: neither ``application/json`` nor ``multipart/form-data``.
    :raises MalformedRequest: bad JSON, a broken multipart body.
    """
    limit = check_length(request)
    media = request.content_type or ""
    if media == "application/json":
        raw = request.read(limit + 1)
        if len(raw) > limit:
            raise TooLarge(
                f"the body is over the limit of {limit} bytes (TRELLIS_FORMS_MAX_BODY)",
                field="body",
            )
        return _envelope(parse_json(raw, "body"))
    if media == "multipart/form-data":
        return _multipart(request, limit)
    raise UnsupportedMediaType(
        f"content type {media or 'none'!r} is not read here; send application/json, or "
        "multipart/form-data with a 'submission' part and one file part per attachment",
        field="Content-Type",
    )


def _multipart(request: HttpRequest, limit: int) -> Envelope:
    try:
        files, post = request.FILES, request.POST
    except RequestDataTooBig:
        raise TooLarge(
            "the parts without a file name are over Django's DATA_UPLOAD_MAX_MEMORY_SIZE; "
            "send big content (the submission JSON too) as file parts",
            field="body",
        ) from None
    except TooManyFilesSent:
        raise TooLarge("too many file parts in one request", field="attachments") from None
    except (MultiPartParserError, SuspiciousOperation, BadRequest, ValueError) as exc:
        raise MalformedRequest(f"the multipart body cannot be read: {exc}", field="body") from None
    texts = post.getlist("submission")
    parts = files.getlist("submission")
    if len(texts) + len(parts) != 1:
        raise MalformedRequest(
            "send exactly one part named 'submission' holding the submission JSON",
            field="submission",
        )
    raw = texts[0].encode("utf-8", "surrogatepass") if texts else parts[0].read(limit + 1)
    envelope = _envelope(parse_json(raw, "submission"))
    for name in post:
        if name == "submission":
            continue
        for text in post.getlist(name):  # a part without a file name: an attachment all the same
            content = text.encode("utf-8", "surrogatepass")
            envelope.attachments.append(Attachment(name, content, "text/plain; charset=utf-8"))
    for name in files:
        if name == "submission":
            continue
        for upload in files.getlist(name):
            envelope.attachments.append(
                Attachment(name=name, content=upload, content_type=upload.content_type or _octets())
            )
    return envelope


def _octets() -> str:
    return "application/octet-stream"


def _flag(value: str, name: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise MalformedRequest(f"{name} must be true or false; got {value!r:.40}", field=name)


def _number(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise MalformedRequest(
            f"{name} must be an integer from {low} to {high}; got {value!r:.40}", field=name
        )
    return int(value)


def case_query(request: HttpRequest) -> tuple[CaseQuery, int, int]:
    """Filters and paging of ``GET .../api/cases/`` from its query string.

    :raises MalformedRequest: a parameter that does not parse (names it).
    """
    params = request.GET
    since: datetime | None = None
    if "modified_since" in params:
        try:
            since = parse_datetime(params["modified_since"].replace(" ", "+"))
            if since is not None:
                since = (make_aware(since, UTC) if is_naive(since) else since).astimezone(UTC)
        except (ValueError, OverflowError):
            since = None
        if since is None:
            raise MalformedRequest(
                "modified_since must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z",
                field="modified_since",
            )
    properties = {k[len("property.") :]: params[k] for k in params if k.startswith("property.")}
    for name in properties:
        if not is_valid("property", name):
            raise MalformedRequest(
                f"property.{name:.80} names no valid property (letters, digits, '_')",
                field=f"property.{name:.80}",
            )
    query = CaseQuery(
        case_type=params.get("case_type") or None,
        closed=_flag(params["closed"], "closed") if "closed" in params else None,
        modified_since=since,
        properties=properties,
    )
    limit = _number(params.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _number(params.get("offset"), "offset", 0, 0, MAX_OFFSET)
    return query, limit, offset
