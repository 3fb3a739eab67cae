"""Thin views: the receiver and the case/form JSON API (mounted at ``/a/``, ``api=True``).

Every error is JSON ``{"code", "message", "field", "request_id"}`` (422 adds ``errors``);
shared-docs/forms.md lists the statuses.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from trellis.core.django import json_error

from ._errors import FormsError
from ._http import case_query, check_length, error_response, load_multipart, read_submission
from ._receiving import check_member, receive
from .selectors import case_as_dict, case_get, case_list, domain_get, form_as_dict, form_list


def _refuse(
    request: HttpRequest, allowed: tuple[str, ...], domain: str, *, check_domain: bool = True
) -> HttpResponse | None:
    """405 for another method, 401 without a user, 404 for an unknown domain, 403 for a
    non-member; ``None`` when the request may go on."""
    if request.method not in allowed:
        return json_error(
            request,
            405,
            "method_not_allowed",
            f"{request.method} is not allowed here; use {' or '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return json_error(
            request,
            401,
            "not_authenticated",
            "send 'Authorization: ApiKey <username>:<key>' or log in",
            field="Authorization",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    if request.method == "POST":
        try:
            check_length(request)  # before the CSRF check below may read the body
            if _csrf_enforced(request) and request.content_type == "multipart/form-data":
                load_multipart(request)  # the CSRF check reads the form fields: read them once
        except FormsError as exc:
            return error_response(request, exc)
    # Session (cookie) authentication: a browser sends the cookie by itself, so a write needs
    # the CSRF token. The receiver is csrf_exempt only so that anonymous callers get 401.
    if _csrf_refused(request):
        return json_error(
            request,
            403,
            "csrf_failed",
            "a session-authenticated write needs the CSRF token (X-CSRFToken header); "
            "scripts should use an API key instead",
        )
    if not check_domain:
        return None
    try:
        domain_get(domain)
        check_member(user, domain)
    except FormsError as exc:
        return error_response(request, exc)
    return None


def _unused(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
    raise AssertionError("the CSRF check calls no view")


def _csrf_enforced(request: HttpRequest) -> bool:
    """Whether a session user's CSRF token is checked (not for an API key's request)."""
    return not getattr(request, "_dont_enforce_csrf_checks", False)


def _csrf_refused(request: HttpRequest) -> bool:
    if request.method in ("GET", "HEAD") or not _csrf_enforced(request):
        return False
    check = CsrfViewMiddleware(_unused)
    return check.process_view(request, _unused, (), {}) is not None


# Never inside ATOMIC_REQUESTS' transaction: receive commits (or discards) everything itself.
@transaction.non_atomic_requests
@csrf_exempt  # CSRF is enforced in _refuse for session users, after the 401 for anonymous ones
def receiver(request: HttpRequest, domain: str) -> HttpResponse:
    """``POST /a/<domain>/receiver/``: store one submission (201, or 200 for a resend)."""
    refused = _refuse(request, ("POST",), domain, check_domain=False)
    if refused is not None:
        return refused
    try:
        found = domain_get(domain)  # 404 and 403 before the body is read
        check_member(request.user, domain)
        envelope = read_submission(request)
        result = receive(
            domain=found,
            form=envelope.form,
            submission_id=envelope.submission_id,
            data=envelope.data,
            version=envelope.version,
            attachments=envelope.attachments,
            user=request.user,
        )
    except FormsError as exc:
        return error_response(request, exc)
    return JsonResponse(result.as_dict(), status=result.status)


@csrf_exempt  # read-only: other methods get 405, never a CSRF page
def cases(request: HttpRequest, domain: str) -> HttpResponse:
    """``GET /a/<domain>/api/cases/``: filtered, paged cases."""
    refused = _refuse(request, ("GET", "HEAD"), domain)
    if refused is not None:
        return refused
    try:
        query, limit, offset = case_query(request)
        count, rows = case_list(domain, query, limit=limit, offset=offset)
    except FormsError as exc:
        return error_response(request, exc)
    following = None
    if offset + limit < count:
        params = request.GET.copy()
        params["offset"] = str(offset + limit)
        params["limit"] = str(limit)
        following = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    body: dict[str, Any] = {
        "count": count,
        "next": following,
        "results": [case_as_dict(c) for c in rows],
    }
    return JsonResponse(body)


@csrf_exempt  # read-only: other methods get 405, never a CSRF page
def case_detail(request: HttpRequest, domain: str, case_id: str) -> HttpResponse:
    """``GET /a/<domain>/api/cases/<case_id>/``: one case with its history."""
    refused = _refuse(request, ("GET", "HEAD"), domain)
    if refused is not None:
        return refused
    try:
        return JsonResponse(case_get(domain, case_id))
    except FormsError as exc:
        return error_response(request, exc)


@csrf_exempt  # read-only: other methods get 405, never a CSRF page
def forms(request: HttpRequest, domain: str) -> HttpResponse:
    """``GET /a/<domain>/api/forms/``: every form definition of the domain."""
    refused = _refuse(request, ("GET", "HEAD"), domain)
    if refused is not None:
        return refused
    rows = [form_as_dict(d) for d in form_list(domain)]
    return JsonResponse({"count": len(rows), "next": None, "results": rows})
