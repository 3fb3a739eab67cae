"""Thin views: an authorized blob download that streams, with single ``Range`` support.

Who may download a blob is the ``blobs_can_read`` hook's decision (by default: active staff);
a refusal answers exactly like an unknown key.

``GET`` or ``HEAD`` ``<mount>/<key>`` (mounted at ``/blobs/``). Only ``GET`` honours ``Range``
(RFC 9110 section 14.2), and only when ``If-Range``, if sent, matches the ETag; otherwise the
range is ignored, even one that could not be satisfied (section 13.1.5). Headers and body come
from one reading of the metadata. Errors are JSON ``{"code", "message", "field"}``:

- 401 ``not_authenticated``: no logged-in user (with ``WWW-Authenticate: Session``);
- 400 ``invalid_key``: the key is malformed;
- 404 ``not_found``: no blob has the key, or the user may not read it;
- 405 ``method_not_allowed``: anything but GET and HEAD (with ``Allow``; the view is exempt
  from CSRF checks because it never writes, so a POST gets this answer, not a CSRF page);
- 409 ``blob_changed``: the blob was deleted and stored again under its key while the
  response was being prepared (content no longer matching the metadata read); request it
  again;
- 416 ``range_not_satisfiable``: the ``Range`` starts past the end (``Content-Range: bytes */N``);
- 500 ``integrity_error``: the stored content is missing, damaged (a directory or a symbolic
  link where the content file should be) or does not match its metadata. Blobs up to 1 MiB
  are verified before the response starts (``HEAD`` too: it answers what ``GET`` would); a
  larger download, or a range covering the whole blob (``bytes=0-``), is cut short before
  its last chunk instead, so the client sees a failed transfer, never complete bad content.
  A partial range cannot be checked against the sha256 and is served as stored.

A failing provider raises ``BlobProviderFailed`` or ``BlobStoreUnavailable`` out of the view:
trellis-core's edge middleware answers them under this ``api=True`` mount as JSON 502
``provider_failed`` or 503 ``provider_unavailable`` (with ``Retry-After``). Once a streamed
response has started its status cannot change; a failure then cuts the transfer short.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header, parse_etags
from django.views.decorators.csrf import csrf_exempt

from ._errors import BlobIntegrityError, InvalidKey, NotFound
from ._ranges import ByteRange, RangeNotSatisfiable, parse_range
from ._rows import not_found
from ._streams import CHUNK_SIZE, HeldBackChunks
from ._types import BlobInfo
from .selectors import blob_can_read, blob_get_info, blob_open_from_info, blob_open_range

log = logging.getLogger("trellis.blobs")

SMALL = CHUNK_SIZE
"""Blobs up to this size are read and verified before the response starts."""


@csrf_exempt  # read-only: every other method is answered 405, never a CSRF page
def download(request: HttpRequest, key: str) -> HttpResponse | StreamingHttpResponse:
    """Stream a blob's content to a logged-in user."""
    if request.method not in {"GET", "HEAD"}:
        response = _error(405, "method_not_allowed", f"{request.method} is not allowed; use GET")
        response["Allow"] = "GET, HEAD"
        return response
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        response = _error(401, "not_authenticated", "log in to download blobs")
        response["WWW-Authenticate"] = 'Session realm="trellis"'
        return response
    try:
        info = blob_get_info(key)
    except InvalidKey as exc:
        return _error(400, "invalid_key", str(exc), field="key")
    except NotFound as exc:
        return _error(404, "not_found", str(exc), field="key")
    if not blob_can_read(user, info):
        # Exactly the answer for an unknown key, so keys of unreadable blobs cannot be probed.
        return _error(404, "not_found", str(not_found(info.key)), field="key")

    etag = f'"{info.sha256}"'
    # parse_etags drops a W/ prefix: If-None-Match compares weakly (RFC 9110 13.1.2).
    if {etag, "*"} & set(parse_etags(request.headers.get("If-None-Match", ""))):
        not_modified = HttpResponse(status=304)
        _headers(not_modified, info, etag)
        return not_modified
    wanted = None
    if request.method == "GET" and _if_range_holds(request, etag):
        try:
            wanted = parse_range(request.headers.get("Range"), info.length)
        except RangeNotSatisfiable:
            response = _error(
                416,
                "range_not_satisfiable",
                f"the range {request.headers['Range']!r} starts past the end of the "
                f"{info.length}-byte blob",
                field="Range",
            )
            response["Content-Range"] = f"bytes */{info.length}"
            return response

    try:
        return _content_response(request, info, etag, wanted)
    except NotFound as exc:  # deleted between the metadata read and the open
        return _error(404, "not_found", str(exc), field="key")
    except BlobIntegrityError as exc:
        changed = _changed(info)
        if changed is not None:
            return changed
        log.error("download of blob %r refused: %s", info.key, exc)
        return _error(500, "integrity_error", str(exc), field="key")


def _if_range_holds(request: HttpRequest, etag: str) -> bool:
    """Whether a ``Range`` may apply: no ``If-Range``, or one naming the current ETag.

    The comparison is strong, and a date never matches (no ``Last-Modified`` is sent).
    """
    if_range = request.headers.get("If-Range")
    return if_range is None or if_range.strip() == etag


def _changed(info: BlobInfo) -> JsonResponse | None:
    """The answer when the blob was deleted or replaced since ``info`` was read, else ``None``."""
    try:
        current = blob_get_info(info.key)
    except NotFound as exc:
        return _error(404, "not_found", str(exc), field="key")
    if (current.sha256, current.length, current.created) == (
        info.sha256,
        info.length,
        info.created,
    ):
        return None  # the same blob: its content is damaged
    return _error(
        409,
        "blob_changed",
        f"blob {info.key!r} was replaced while it was being read; request it again",
        field="key",
    )


def _content_response(
    request: HttpRequest, info: BlobInfo, etag: str, wanted: ByteRange | None
) -> HttpResponse | StreamingHttpResponse:
    status = 200 if wanted is None else 206
    length = info.length if wanted is None else wanted.stop - wanted.start
    covers_all = wanted is not None and wanted.start == 0 and wanted.stop == info.length
    part = None if covers_all else wanted  # a range that covers every byte is a full read
    response: HttpResponse | StreamingHttpResponse
    if request.method == "HEAD":
        # The answer GET would give: a small blob is read and verified, a larger one opened,
        # so missing or damaged content is not announced as 200.
        with blob_open_from_info(info) as reader:
            if info.length <= SMALL:
                reader.read()
        response = HttpResponse(status=status)
    elif info.length <= SMALL:
        with blob_open_from_info(info) as reader:
            content = reader.read()  # verified against the headers' metadata before sending
        body = content if wanted is None else content[wanted.start : wanted.stop]
        response = HttpResponse(body, status=status)
    elif part is None:  # the whole blob, or bytes=0-: verified like a full read
        response = StreamingHttpResponse(HeldBackChunks(blob_open_from_info(info)), status=status)
    else:
        response = StreamingHttpResponse(
            blob_open_range(info, part.start, part.stop), status=status
        )
    _headers(response, info, etag)
    response["Content-Type"] = info.content_type
    response["Content-Length"] = str(length)
    if wanted is not None:
        response["Content-Range"] = wanted.content_range
    return response


def _headers(response: HttpResponse | StreamingHttpResponse, info: BlobInfo, etag: str) -> None:
    response["ETag"] = etag
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-cache"
    filename = info.name or info.key.rsplit("/", 1)[-1]
    disposition = content_disposition_header(as_attachment=True, filename=filename)
    if disposition:
        response["Content-Disposition"] = disposition
    # Uploaded content is served as a download, never rendered as a page of this site.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"


def _error(status: int, code: str, message: str, *, field: str | None = None) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "field": field}, status=status)
