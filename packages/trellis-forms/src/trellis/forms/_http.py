"""Reading receiver requests: size and media type checks, JSON and multipart bodies.

Kept out of the views so they stay thin; everything here raises :class:`FormsError`
subclasses that the views answer as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFilesSent,
)
from django.http import HttpRequest, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.datastructures import MultiValueDict
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from trellis.core.django import request_id

from . import _settings
from ._errors import (
    FieldError,
    FormsError,
    LengthRequired,
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
    reads it, and a chunked body (no ``Content-Length``: WSGI hands Django none of it); return
    the limit.

    :raises TooLarge: naming the length and the limit.
    :raises LengthRequired: ``Transfer-Encoding`` without ``Content-Length``.
    """
    limit = _settings.max_body()
    declared = request.META.get("CONTENT_LENGTH") or ""
    if not declared and request.META.get("HTTP_TRANSFER_ENCODING"):
        raise LengthRequired(
            "send the body with a Content-Length header; a chunked body "
            "(Transfer-Encoding) is not read",
            field="Content-Length",
        )
    try:
        length = int(declared or 0)
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
    if media in ("application/json", "multipart/form-data") and not int(
        request.META.get("CONTENT_LENGTH") or 0
    ):
        raise MalformedRequest(
            "the body is empty; send the submission (JSON, or multipart with a 'submission' part)",
            field="body",
        )
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


class _Watched:
    """The request body as Django's multipart parser reads it, watched for its delimiters.

    Django's parser drops an unfinished last file part, keeps a truncated last text part, and
    skips parts without a name without a word; counting the delimiters and looking for the
    closing one tells a cut-short body and a dropped part from a whole one.
    """

    def __init__(self, request: HttpRequest, boundary: str) -> None:
        self._request = request
        self._delimiter = b"--" + boundary.encode("ascii", "replace")
        self._close = self._delimiter + b"--"
        self._tail = b""  # the end of what was read, shorter than a delimiter
        self._close_tail = b""  # the same, shorter than the closing delimiter
        self.delimiters = 0
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        chunk = self._request.read(size)
        if chunk:
            # A tail shorter than a delimiter holds none whole: none is counted twice.
            window = self._tail + chunk
            self.delimiters += window.count(self._delimiter)
            self._tail = window[len(window) - len(self._delimiter) + 1 :]
            window = self._close_tail + chunk
            self.closed = self.closed or self._close in window
            self._close_tail = window[len(window) - len(self._close) + 1 :]
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.read(65536), b"")


_PARSED = "_trellis_forms_multipart"
"""The request attribute holding a multipart body's parts, or the error reading it."""


@dataclass
class Parts:
    """The parts of a multipart body: text parts with their exact bytes, file parts, and how
    many parts Django's parser skipped without a word (no name, an empty file name, headers
    not ending in a blank CRLF line)."""

    texts: list[tuple[str, bytes]]
    files: list[tuple[str, Any]]
    unread: int = 0


def load_multipart(request: HttpRequest) -> Parts:
    """The parts of a multipart request, read once (a session write's CSRF check needs the
    form fields first) and watched: a body cut short before its closing boundary is refused.

    :raises TooLarge, MalformedRequest: the same for every call.
    """
    cached = getattr(request, _PARSED, None)
    if isinstance(cached, FormsError):
        raise cached
    if isinstance(cached, Parts):
        return cached
    try:
        parts = _read_multipart(request)
    except FormsError as exc:
        setattr(request, _PARSED, exc)
        raise
    setattr(request, _PARSED, parts)
    return parts


def _as_utf8(name: str) -> str:
    """A part's name as Django's parser gave it (its UTF-8 bytes read as Latin-1), as text."""
    return name.encode("latin-1").decode("utf-8", "replace")


def _read_multipart(request: HttpRequest) -> Parts:
    if hasattr(request, "_files"):  # parsed by other code already: nothing left to watch
        return Parts(
            [
                (k, text.encode("utf-8", "surrogatepass"))
                for k, texts in request.POST.lists()
                for text in texts
            ],
            [(k, f) for k, files in request.FILES.lists() for f in files],
        )
    watched = _Watched(request, (request.content_params or {}).get("boundary", ""))
    try:
        # Latin-1 maps each byte to one character, so text parts come back byte for byte:
        # with UTF-8, Django would replace bytes that are not UTF-8 without a word.
        parser = MultiPartParser(
            request.META, cast(Any, watched), request.upload_handlers, "latin-1"
        )
        post, files = parser.parse()
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
    parts = Parts(
        [(_as_utf8(k), v.encode("latin-1")) for k, values in post.lists() for v in values],
        [(_as_utf8(k), f) for k, uploads in files.lists() for f in uploads],
    )
    # As Django's own parsing does: request.POST and request.FILES are these parts (the CSRF
    # check reads the first), and the request closes (so deletes) temporary upload files.
    fields = QueryDict(mutable=True)
    for name, raw in parts.texts:
        fields.appendlist(name, raw.decode("utf-8", "replace"))
    uploads: MultiValueDict[str, Any] = MultiValueDict()
    for name, upload in parts.files:
        uploads.appendlist(name, upload)
    request._post, request._files = fields, uploads  # type: ignore[attr-defined]
    if not watched.closed:
        raise MalformedRequest(
            "the multipart body ends before its closing boundary: it was cut short; send it "
            "again whole"
            if watched.delimiters
            else "the multipart body has no part: no line starts with its boundary",
            field="body",
        )
    parts.unread = max(0, watched.delimiters - 1 - len(parts.texts) - len(parts.files))
    return parts


def _multipart(request: HttpRequest, limit: int) -> Envelope:
    parts = load_multipart(request)
    texts = [raw for name, raw in parts.texts if name == "submission"]
    files = [upload for name, upload in parts.files if name == "submission"]
    if len(texts) + len(files) != 1:
        raise MalformedRequest(
            "send exactly one part named 'submission' holding the submission JSON",
            field="submission",
        )
    if parts.unread:
        raise ValidationFailed(
            "the attachments are invalid",
            [
                FieldError(
                    "/attachments",
                    "name",
                    f"{parts.unread} part(s) cannot be read: every part needs headers ending "
                    "in a blank line (CRLF CRLF), a Content-Disposition with a name, and a file "
                    "part a file name",
                )
            ],
        )
    raw = texts[0] if texts else files[0].read(limit + 1)
    envelope = _envelope(parse_json(raw, "submission"))
    # A session write's CSRF token (the form field the CSRF check read) is no attachment.
    session = not getattr(request, "_dont_enforce_csrf_checks", False)
    for name, content in parts.texts:  # a part without a file name: an attachment all the same
        if name == "submission" or (session and name == "csrfmiddlewaretoken"):
            continue
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRequest(
                f"text part {name!r:.110} is not UTF-8; send it as a file part (with a file "
                "name) to keep its bytes as they are",
                field=f"/attachments/{name}",
            ) from None
        envelope.attachments.append(Attachment(name, content, "text/plain; charset=utf-8"))
    for name, upload in parts.files:
        if name != "submission":
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
