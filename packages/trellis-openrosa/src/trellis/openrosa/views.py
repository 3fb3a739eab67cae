"""The OpenRosa routes: form list, form and media downloads, manifest, submission.

Every answer carries ``X-OpenRosa-Version: 1.0``, ``Date`` and
``X-OpenRosa-Accept-Content-Length``; errors are an ``OpenRosaResponse`` with the message
(clients show it), and missing or wrong credentials a 401 with a Digest challenge, never a
login page or a 403, so clients ask for credentials again.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast
from xml.sax.saxutils import escape, quoteattr

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from trellis import blobs, forms
from trellis.core.django import protocol_view
from trellis.forms.selectors import domain_get, is_member

from . import _settings
from ._entities import entity_csv, entity_lists, md5
from ._errors import MalformedSubmission, OpenRosaError, TooLarge, XFormNotFound
from ._receive import XML_NAME, Upload, receive
from .auth import Unauthorized, challenge, user_from

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    from .models import XForm

log = logging.getLogger("trellis.openrosa")

RESPONSE_NS = "http://openrosa.org/http/response"
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
INCOMPLETE = "*isIncomplete*"
_CHUNK = 1 << 20


_Response = TypeVar("_Response", HttpResponse, StreamingHttpResponse)


def _headers(response: _Response) -> _Response:
    response["X-OpenRosa-Version"] = "1.0"
    response["X-OpenRosa-Accept-Content-Length"] = str(_settings.max_body())
    response["Date"] = http_date()
    return response


def _xml(body: str, status: int = 200) -> HttpResponse:
    return _headers(
        HttpResponse(
            '<?xml version="1.0" encoding="UTF-8"?>\n' + body,
            status=status,
            content_type="text/xml; charset=utf-8",
        )
    )


def openrosa_response(message: str, status: int, *, nature: str = "") -> HttpResponse:
    """An ``OpenRosaResponse`` with ``message`` (shown to the user by clients)."""
    attribute = f" nature={quoteattr(nature)}" if nature else ""
    return _xml(
        f'<OpenRosaResponse xmlns="{RESPONSE_NS}"><message{attribute}>{escape(message)}'
        "</message></OpenRosaResponse>",
        status,
    )


def _unauthorized(exc: Unauthorized) -> HttpResponse:
    response = openrosa_response(exc.message, 401)
    response["WWW-Authenticate"] = challenge(stale=exc.stale)
    return response


def _error(exc: OpenRosaError | forms.FormsError) -> HttpResponse:
    message = exc.message
    if isinstance(exc, forms.ValidationFailed) and exc.errors:
        message += ": " + "; ".join(f"{e.field}: {e.message}" for e in exc.errors[:10])
    return openrosa_response(message, exc.status, nature="submit_error")


def _version_problem(request: HttpRequest) -> HttpResponse | None:
    sent = request.headers.get("X-OpenRosa-Version")
    if sent is None:
        return openrosa_response(
            "send the header X-OpenRosa-Version: 1.0 (an OpenRosa client does)", 400
        )
    if sent.strip() != "1.0":
        return openrosa_response(
            f"X-OpenRosa-Version {sent[:20]!r} is not spoken here; this server speaks 1.0", 400
        )
    return None


def _gate(
    request: HttpRequest, domain: str, methods: tuple[str, ...], *, versioned: bool = True
) -> tuple[HttpResponse | None, Any, AbstractBaseUser | None]:
    """Method, version header, credentials and membership: an answer, or the domain and user
    (an answer to ``HEAD`` without its body)."""
    refused, found, user = _check(request, domain, methods, versioned=versioned)
    if refused is not None and request.method == "HEAD":
        refused.content = b""
    return refused, found, user


def _check(
    request: HttpRequest, domain: str, methods: tuple[str, ...], *, versioned: bool
) -> tuple[HttpResponse | None, Any, AbstractBaseUser | None]:
    if request.method not in methods:
        response = openrosa_response(f"method {request.method} is not allowed here", 405)
        response["Allow"] = ", ".join(methods)
        return response, None, None
    try:
        user = user_from(request, allow_session=request.method in ("GET", "HEAD"))
    except Unauthorized as exc:
        return _unauthorized(exc), None, None
    if versioned:
        problem = _version_problem(request)
        if problem is not None:
            return problem, None, None
    try:
        found = domain_get(domain)
    except forms.DomainNotFound:
        found = None
    if found is None or not is_member(user, domain):
        # The same answer for a domain that does not exist: names cannot be probed.
        return (
            _unauthorized(
                Unauthorized(
                    f"user {user.get_username()!r} is not a member of domain {domain!r:.80}; "
                    "sign in with an account of this domain"
                )
            ),
            None,
            None,
        )
    return None, found, user


def _absolute(request: HttpRequest, route: str, **kwargs: str) -> str:
    return request.build_absolute_uri(reverse(f"openrosa:{route}", kwargs=kwargs))


def _xforms(domain: Any, form_id: str | None, every: bool) -> list[XForm]:
    """The latest XForm of each form id (of ``form_id`` only when given); all versions when
    ``every`` (``listAllVersions=true``)."""
    from .models import XForm

    rows = XForm.objects.filter(domain=domain).only(  # not the XForms themselves
        "form_id", "version", "title", "md5", "media_names", "created_at"
    )
    if form_id is not None:
        rows = rows.filter(form_id=form_id)
    if every:
        return sorted(rows, key=lambda x: (x.form_id, x.created_at))
    latest: dict[str, XForm] = {}
    for row in rows:  # newest first per form id
        latest.setdefault(row.form_id, row)
    return sorted(latest.values(), key=lambda x: x.form_id)


@protocol_view
@csrf_exempt  # reads only
def form_list(request: HttpRequest, domain: str) -> HttpResponse:
    """``GET /a/<domain>/formList``: the OpenRosa ``xformsList``, the latest version of each
    form (``?formID=`` one form, ``?listAllVersions=true`` every version)."""
    refused, found, _ = _gate(request, domain, ("GET", "HEAD"))
    if refused is not None:
        return refused
    entries = []
    every = request.GET.get("listAllVersions", "").lower() == "true"
    for xform in _xforms(found, request.GET.get("formID"), every):
        kwargs = {"domain": domain, "form_id": xform.form_id, "version": xform.version or "-"}
        parts = [
            f"<formID>{escape(xform.form_id)}</formID>",
            f"<name>{escape(xform.title)}</name>",
            f"<version>{escape(xform.version)}</version>",
            f"<hash>md5:{xform.md5}</hash>",
            f"<downloadUrl>{escape(_absolute(request, 'form', **kwargs))}</downloadUrl>",
        ]
        if xform.media_names:
            url = _absolute(request, "manifest", **kwargs)
            parts.append(f"<manifestUrl>{escape(url)}</manifestUrl>")
        entries.append("<xform>" + "".join(parts) + "</xform>")
    return _xml(f'<xforms xmlns="{XFORMS_LIST_NS}">' + "".join(entries) + "</xforms>")


def _one(found: Any, form_id: str, version: str) -> XForm:
    from .models import XForm

    xform = XForm.objects.filter(
        domain=found, form_id=form_id, version="" if version == "-" else version
    ).first()
    if xform is None:
        raise XFormNotFound(f"no form {form_id!r:.80} version {version!r:.40} here")
    return xform


@protocol_view
@csrf_exempt  # reads only
def form_download(request: HttpRequest, domain: str, form_id: str, version: str) -> HttpResponse:
    """``GET .../forms/<form_id>/<version>/form.xml``: the XForm (``-`` for no version)."""
    refused, found, _ = _gate(request, domain, ("GET", "HEAD"), versioned=False)
    if refused is not None:
        return refused
    try:
        xform = _one(found, form_id, version)
    except OpenRosaError as exc:
        return _error(exc)
    response = _headers(HttpResponse(xform.xml, content_type="text/xml; charset=utf-8"))
    response["Content-Disposition"] = f'attachment; filename="{xform.form_id}.xml"'
    return response


@protocol_view
@csrf_exempt  # reads only
def manifest(request: HttpRequest, domain: str, form_id: str, version: str) -> HttpResponse:
    """``GET .../forms/<form_id>/<version>/manifest``: the ``xformsManifest`` of its media."""
    refused, found, _ = _gate(request, domain, ("GET", "HEAD"))
    if refused is not None:
        return refused
    try:
        xform = _one(found, form_id, version)
    except OpenRosaError as exc:
        return _error(exc)
    files = []
    for name, case_type in entity_lists(xform).items():
        url = _absolute(
            request, "media", domain=domain, form_id=xform.form_id, version=version, name=name
        )
        digest = md5(entity_csv(found, case_type))
        files.append(
            f"<mediaFile><filename>{escape(name)}</filename><hash>md5:{digest}</hash>"
            f"<downloadUrl>{escape(url)}</downloadUrl></mediaFile>"
        )
    for media in xform.media.all():
        url = _absolute(
            request,
            "media",
            domain=domain,
            form_id=xform.form_id,
            version=version,
            name=media.name,
        )
        files.append(
            f"<mediaFile><filename>{escape(media.name)}</filename><hash>md5:{media.md5}</hash>"
            f"<downloadUrl>{escape(url)}</downloadUrl></mediaFile>"
        )
    return _xml(f'<manifest xmlns="{MANIFEST_NS}">' + "".join(files) + "</manifest>")


@protocol_view
@csrf_exempt  # reads only
def media(
    request: HttpRequest, domain: str, form_id: str, version: str, name: str
) -> HttpResponse | StreamingHttpResponse:
    """``GET .../forms/<form_id>/<version>/media/<name>``: a media file, from trellis-blobs."""
    refused, found, _ = _gate(request, domain, ("GET", "HEAD"), versioned=False)
    if refused is not None:
        return refused
    try:
        xform = _one(found, form_id, version)
        item = xform.media.filter(name=name).first()
        if item is None:
            case_type = entity_lists(xform).get(name)
            if case_type is not None:
                content = entity_csv(found, case_type)
                listed = _headers(HttpResponse(content, content_type="text/csv; charset=utf-8"))
                listed["Content-Disposition"] = f'attachment; filename="{name}"'
                return listed
            raise XFormNotFound(f"form {form_id!r} has no media file {name!r:.100}")
    except OpenRosaError as exc:
        return _error(exc)
    response = _headers(StreamingHttpResponse(_chunks(item.key), content_type=item.content_type))
    response["Content-Length"] = str(item.length)
    response["Content-Disposition"] = f'attachment; filename="{item.name}"'
    return response


def _chunks(key: str) -> Iterator[bytes]:
    """A blob's content in chunks; the reader closes when the response does (Django closes a
    streaming response's iterator) or when the content ends. The reader checks the sha256 as
    the last bytes come, so damaged content ends the download short of its length."""
    reader = blobs.open_blob(key)
    try:
        while chunk := reader.read(_CHUNK):
            yield chunk
    finally:
        reader.close()


def _body_length(request: HttpRequest) -> int:
    limit = _settings.max_body()
    declared = request.META.get("CONTENT_LENGTH") or ""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not declared and chunked:
        return _read_chunked(request, limit)
    try:
        length = int(declared or 0)
    except ValueError:
        raise MalformedSubmission("Content-Length is not a number") from None
    if length > limit:
        raise TooLarge(
            f"the request is {length} bytes; this server accepts up to {limit} bytes per "
            "request (X-OpenRosa-Accept-Content-Length): send the files in several requests"
        )
    return length


def _read_chunked(request: HttpRequest, limit: int) -> int:
    """Read a chunked body (the WSGI server has removed the chunking) into a spooled file
    that Django then reads as if it had come with a Content-Length."""
    from django.core.handlers.wsgi import LimitedStream

    if not request.META.get("wsgi.input_terminated"):
        raise MalformedSubmission(
            "this server cannot read a chunked request body here; send a Content-Length"
        )
    spool = tempfile.SpooledTemporaryFile(max_size=_CHUNK)  # noqa: SIM115 - the request's
    source = request.META["wsgi.input"]
    length = 0
    while chunk := source.read(min(_CHUNK, limit + 1 - length)):
        length += len(chunk)
        if length > limit:
            raise TooLarge(
                f"the request is over {limit} bytes (X-OpenRosa-Accept-Content-Length); send "
                "the files in several requests"
            )
        spool.write(chunk)
    spool.seek(0)
    request._trellis_spool = spool  # type: ignore[attr-defined]  # closed by the view
    request.META["CONTENT_LENGTH"] = str(length)
    request._stream = LimitedStream(cast(Any, spool), length)  # type: ignore[assignment]
    request._read_started = False  # type: ignore[attr-defined]
    return length


def _parts(request: HttpRequest) -> tuple[bytes, list[Upload], bool]:
    if request.content_type != "multipart/form-data":
        raise MalformedSubmission(
            f"content type {request.content_type or 'none'!r} is not read here; send "
            f"multipart/form-data with a {XML_NAME!r} part"
        )
    if not _body_length(request):
        raise MalformedSubmission(f"the body is empty; send a {XML_NAME!r} part")
    try:
        parts = forms.load_multipart(request)
    except forms.TooLarge as exc:
        if exc.field == "body":  # the text parts, over DATA_UPLOAD_MAX_MEMORY_SIZE
            raise TooLarge(
                "the parts without a file name are over Django's DATA_UPLOAD_MAX_MEMORY_SIZE; "
                f"send the {XML_NAME!r} part as a file (with a file name)"
            ) from None
        raise TooLarge(
            f"{exc.message} (Django's DATA_UPLOAD_MAX_NUMBER_FILES); send the files in "
            f"several requests, each but the last with a {INCOMPLETE!r} part"
        ) from None
    except forms.FormsError as exc:
        raise MalformedSubmission(exc.message) from None
    if parts.unread:
        raise MalformedSubmission(
            f"{parts.unread} part(s) cannot be read (each needs a Content-Disposition with a "
            "name, and a file part a file name)"
        )
    xml_files = [f for name, f in parts.files if name == XML_NAME]
    xml_texts = [raw for name, raw in parts.texts if name == XML_NAME]
    if len(xml_files) + len(xml_texts) != 1:
        raise MalformedSubmission(
            f"send exactly one part named {XML_NAME!r} holding the submission XML; got "
            f"{len(xml_files) + len(xml_texts)}"
        )
    if xml_files:
        kind = (xml_files[0].content_type or "").split(";")[0].strip().lower()
        if kind not in ("text/xml", "application/xml", "application/octet-stream", ""):
            raise MalformedSubmission(
                f"the {XML_NAME!r} part is {kind!r}; send it as text/xml or application/xml"
            )
    xml = xml_files[0].read() if xml_files else xml_texts[0]
    incomplete = False
    for name, raw in parts.texts:
        if name == XML_NAME:
            continue
        if name == INCOMPLETE:
            incomplete = raw.strip().lower() in (b"yes", b"true", b"1")
            continue
        raise MalformedSubmission(
            f"part {name!r:.110} is not a file; send attachments as file parts"
        )
    uploads = [
        Upload(name, upload, upload.content_type or "application/octet-stream")
        for name, upload in parts.files
        if name != XML_NAME
    ]
    return xml, uploads, incomplete


@protocol_view
@csrf_exempt  # Digest, Basic or API key credentials only: no session cookie writes here
def submission(request: HttpRequest, domain: str) -> HttpResponse:
    """``HEAD`` (204: credentials and the size limit, before sending) and ``POST`` (the
    submission: 201 stored, 202 waiting for more files) at ``/a/<domain>/submission``."""
    refused, found, user = _gate(request, domain, ("HEAD", "POST"))
    if refused is not None:
        return refused
    if request.method == "HEAD":
        empty = _headers(HttpResponse(status=204))
        del empty["Content-Type"]
        return empty
    try:
        xml, uploads, incomplete = _parts(request)
        outcome = receive(
            domain=found, xml=xml, uploads=uploads, incomplete=incomplete, user=cast(Any, user)
        )
    except (OpenRosaError, forms.FormsError) as exc:
        return _error(exc)
    finally:
        spool = getattr(request, "_trellis_spool", None)
        if spool is not None:
            spool.close()
    return openrosa_response(outcome.message, outcome.status, nature="submit_success")
