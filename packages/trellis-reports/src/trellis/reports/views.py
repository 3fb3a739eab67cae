"""Thin views: the JSON/CSV API (mounted at ``a/``) and the report page (mounted at ``reports/``).

API (errors are JSON ``{"code", "message", "field", "request_id"}``):

- ``GET /a/<domain>/api/reports/``: the domain's reports;
- ``GET /a/<domain>/api/reports/<slug>/``: rows, ``?<group column>=<value>`` (repeatable)
  filters, ``limit`` (1 to 1000, default 100) and ``offset`` page, ``format=csv`` for CSV
  (every matching row unless ``limit``/``offset`` are given).

401 for anonymous requests; 404 for an unknown report *and* for one the user may not view
(``reports_can_view``), so slugs cannot be probed; 400 for a bad parameter; 405 for other
methods. Answers are cached in Django's cache under a key holding the report's version,
which every change bumps: a cached answer is never stale.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.cache import BaseCache, caches
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from trellis.core.django import json_error

from . import _settings
from ._chart import render_chart
from ._definitions import DOMAIN_PATTERN, SLUG_PATTERN
from ._errors import InvalidQuery, UnknownReport
from ._output import as_csv, as_json, text
from .selectors import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    report_can_view,
    report_columns,
    report_get,
    report_list,
    report_query,
)

PAGE_ROWS = 500
"""The page shows at most this many rows (the CSV has them all)."""


def _refuse_method(request: HttpRequest) -> JsonResponse | None:
    if request.method in {"GET", "HEAD"}:
        return None
    return json_error(
        request,
        405,
        "method_not_allowed",
        f"{request.method} is not allowed; use GET",
        headers={"Allow": "GET, HEAD"},
    )


def _not_found(request: HttpRequest, domain: str, slug: str | None = None) -> JsonResponse:
    what = f"report {slug!r} in domain {domain!r}" if slug else f"domain {domain!r}"
    return json_error(request, 404, "not_found", f"no {what}, or you may not view it")


def _gate(request: HttpRequest, domain: str) -> JsonResponse | None:
    """The refusal for this request, or ``None`` when it may read ``domain``'s reports."""
    refused = _refuse_method(request)
    if refused is not None:
        return refused
    user = request.user
    if not user.is_authenticated:
        return json_error(
            request,
            401,
            "not_authenticated",
            "log in (or send an API key) to read reports",
            headers={"WWW-Authenticate": 'Session realm="trellis"'},
        )
    if not DOMAIN_PATTERN.fullmatch(domain) or not report_can_view(user, domain):
        return _not_found(request, domain)
    return None


@csrf_exempt  # read-only: every other method is answered 405, never a CSRF page
def report_list_view(request: HttpRequest, domain: str) -> HttpResponse:
    """The reports of a domain."""
    refused = _gate(request, domain)
    if refused is not None:
        return refused
    results = [
        {
            "slug": r.slug,
            "title": r.title,
            "source_topic": r.source_topic,
            "needs_rebuild": r.needs_rebuild,
            "records": r.records,
            "rows": r.groups,
            "version": r.version,
            "columns": [c.as_dict() for c in report_columns(r)],
            "url": reverse("reports_api:report", args=[r.domain, r.slug]),
            "page": reverse("reports:report", args=[r.domain, r.slug]),
        }
        for r in report_list(domain=domain)
    ]
    response = JsonResponse({"count": len(results), "next": None, "results": results})
    response["Cache-Control"] = "private, no-cache"
    return response


def _integer(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name)
    if raw is None:
        return None
    lowest, highest = (1, MAX_LIMIT) if name == "limit" else (0, 999_999_999)
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise InvalidQuery(
            name, f"{name} must be a whole number from {lowest} to {highest}, got {raw[:40]!r}"
        )
    return int(raw)


def _parameters(request: HttpRequest) -> tuple[str, int | None, int, dict[str, list[str]]]:
    output = request.GET.get("format", "json")
    if output not in {"json", "csv"}:
        raise InvalidQuery("format", f"format must be json or csv, got {output[:40]!r}")
    limit = _integer(request, "limit")
    offset = _integer(request, "offset") or 0
    if output == "json" and limit is None:
        limit = DEFAULT_LIMIT
    filters = {
        name: request.GET.getlist(name)
        for name in request.GET
        if name not in {"format", "limit", "offset"}
    }
    return output, limit, offset, filters


log = logging.getLogger("trellis.reports")


def _answer_cache() -> tuple[BaseCache, int] | None:
    """The cache answers are kept in and for how long, or ``None`` (caching off, or its
    settings are broken: ``manage.py check`` names them as ``trellis_reports.E003``)."""
    try:
        seconds = _settings.cache_seconds()
        return (caches[_settings.cache_alias()], seconds) if seconds else None
    except Exception as exc:
        log.warning("reports answer cache unusable, answering uncached: %r", exc)
        return None


def _cache_get(cache: BaseCache, key: str) -> Any:
    """A cached answer, or ``None``; a failing cache (its server down) is a miss."""
    try:
        return cache.get(key)
    except Exception as exc:
        log.warning("reports answer cache failed to read, answering uncached: %r", exc)
        return None


def _cache_set(cache: BaseCache, key: str, value: Any, seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception as exc:
        log.warning("reports answer cache failed to write: %r", exc)


@csrf_exempt  # read-only: every other method is answered 405, never a CSRF page
def report_view(request: HttpRequest, domain: str, slug: str) -> HttpResponse:
    """One report's rows as JSON or CSV, from its aggregate rows, cached by version."""
    refused = _gate(request, domain)
    if refused is not None:
        return refused
    if not SLUG_PATTERN.fullmatch(slug):
        return _not_found(request, domain, slug)
    try:
        report = report_get(domain=domain, slug=slug)
    except UnknownReport:
        return _not_found(request, domain, slug)
    try:
        output, limit, offset, filters = _parameters(request)
    except InvalidQuery as exc:
        return json_error(request, 400, "invalid_parameter", str(exc), field=exc.field)
    query = sorted((k, v) for k in request.GET for v in request.GET.getlist(k))
    # The host is in the key: the JSON's "next" link is an absolute URL.
    shape = [request.get_host(), output, limit, offset, query]
    digest = hashlib.sha256(json.dumps(shape).encode()).hexdigest()
    key = f"trellis.reports:{report.pk}:{report.version}:{digest}"
    store = _answer_cache()
    cached: Any = _cache_get(store[0], key) if store else None
    if cached is None:
        try:
            found = report_query(
                domain=domain, slug=slug, filters=filters, limit=limit, offset=offset, report=report
            )
        except InvalidQuery as exc:
            return json_error(request, 400, "invalid_parameter", str(exc), field=exc.field)
        if output == "csv":
            cached = ("text/csv; charset=utf-8", as_csv(found).encode("utf-8"))
        else:
            next_url = None
            if found.has_more and limit is not None:
                params = [(k, v) for k, v in query if k != "offset"] + [
                    ("offset", str(offset + limit))
                ]
                next_url = request.build_absolute_uri(f"{request.path}?{urlencode(params)}")
            body = json.dumps(as_json(found, next_url), ensure_ascii=False).encode("utf-8")
            cached = ("application/json", body)
        if store:
            _cache_set(store[0], key, cached, store[1])
    content_type, body = cached
    response = HttpResponse(body, content_type=content_type)
    if output == "csv":
        response["Content-Disposition"] = f'attachment; filename="{domain}-{slug}.csv"'
    response["Cache-Control"] = "private, no-cache"
    response["X-Report-Version"] = str(report.version)
    return response


def report_page(request: HttpRequest, domain: str, slug: str) -> HttpResponse:
    """The report page: a server-rendered SVG chart and a table of the same numbers."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not DOMAIN_PATTERN.fullmatch(domain) or not SLUG_PATTERN.fullmatch(slug):
        raise Http404("no such report")
    if not report_can_view(request.user, domain):
        raise Http404("no such report")
    try:
        report = report_get(domain=domain, slug=slug)
    except UnknownReport:
        raise Http404("no such report") from None
    found = report_query(domain=domain, slug=slug, limit=PAGE_ROWS, report=report)
    chart = found.chart or {}
    y = chart.get("y") or next(c.name for c in found.columns if c.kind == "aggregate")
    svg = render_chart(
        found.rows,
        kind=chart.get("type", "bar"),
        x=chart.get("x"),
        y=y,
        title=found.title,
        series=chart.get("series"),
    )
    table = [[text(row.get(c.name)) for c in found.columns] for row in found.rows]
    context = {
        "report": report,
        "found": found,
        "svg": svg,
        "table": table,
        "truncated": found.count > len(found.rows),
        "csv_url": reverse("reports_api:report", args=[domain, slug]) + "?format=csv",
    }
    return render(request, "trellis_reports/report.html", context)
