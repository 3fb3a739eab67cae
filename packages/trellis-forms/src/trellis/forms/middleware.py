"""``ApiKeyMiddleware``: ``Authorization: ApiKey <username>:<key>`` authenticates a request.

Added to ``MIDDLEWARE`` by the ``forms`` plugin (``trellis.forms.middleware.ApiKeyMiddleware``).
A valid key sets ``request.user`` and exempts the request from CSRF checks (the header is not
sent by a browser on its own, so it cannot be forged cross-site); a malformed or wrong key is
answered 401 JSON with ``WWW-Authenticate: ApiKey`` -- except on a route whose view answers in
a protocol of its own (``trellis.core.django.protocol_view``, OpenRosa's): the request goes on
unauthenticated with ``request.trellis_api_key_error`` set, and the view refuses it its way.
Other requests pass untouched (session login works as before).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from trellis.core.django import json_error

from ._auth import SCHEME, BadCredentials, authenticate, is_api_key_header


class ApiKeyMiddleware:
    """Authenticate ``Authorization: ApiKey`` headers (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        header = request.headers.get("Authorization", "")
        if header and is_api_key_header(header):
            try:
                user = authenticate(header)
            except BadCredentials as exc:
                if _protocol_route(request):
                    request.trellis_api_key_error = str(exc)  # type: ignore[attr-defined]
                    return self.get_response(request)
                return json_error(
                    request,
                    401,
                    "not_authenticated",
                    str(exc),
                    field="Authorization",
                    headers={"WWW-Authenticate": SCHEME},
                )
            request.user = user  # type: ignore[assignment]
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return self.get_response(request)


def _protocol_route(request: HttpRequest) -> bool:
    """Whether the request's view answers errors in a protocol of its own."""
    from django.urls import Resolver404, resolve

    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return bool(getattr(match.func, "trellis_protocol", False))
