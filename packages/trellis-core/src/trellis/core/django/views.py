"""Thin views: liveness, readiness, the detailed health report and the plugin dashboard.

Who sees what (Kubernetes and django-health-check conventions):

- ``health/live``: anyone; no I/O at all — the process answers, so it is alive.
- ``health/ready``: anyone gets ``{"status"}``; monitors get every cheap check's outcome.
  Deep checks (a blob round trip) never run here.
- ``health``: monitors only (active staff, or ``Authorization: Bearer`` with
  ``TRELLIS_MONITORING_TOKEN``): every check, deep ones at most once per
  ``TRELLIS_HEALTH_INTERVAL`` seconds, cached in Django's cache in between.
- the dashboard (``/``): monitors only; anyone else is sent to log in.
- ``api/openapi.json``: any logged-in user (or API key); 401 JSON otherwise.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .._errors import ProviderError, UnknownCheck
from .._global import get_host
from .._health import HealthReport, run_health_checks
from ._edge import api_view, is_monitor, json_error
from ._openapi import openapi_document
from ._panels import render_panels
from ._settings import seconds_setting, setting


def _deep_report(only: str | None = None) -> HealthReport:
    cache = caches[setting("TRELLIS_HEALTH_CACHE", "default")]
    interval = seconds_setting("TRELLIS_HEALTH_INTERVAL", 60.0)
    return run_health_checks(get_host(), only=only, cache=cache, interval=interval)


def _status(report: HealthReport) -> int:
    return 503 if report.status == "fail" else 200


@api_view
@require_safe
@never_cache
def live(request: HttpRequest) -> JsonResponse:
    """Liveness: 200 ``{"status": "ok"}`` whenever the process can answer; no I/O."""
    return JsonResponse({"status": "ok"})


@api_view
@require_safe
@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: cheap checks only; 503 when one fails. Details for monitors only."""
    report = run_health_checks(get_host(), deep=False)
    body = report.as_dict() if is_monitor(request) else {"status": report.status}
    return JsonResponse(body, status=_status(report))


@api_view
@require_safe
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """The detailed report for monitors; 503 when a check fails. ``?only=<name>``: one check."""
    if not is_monitor(request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return json_error(
                request, 403, "permission_denied", "the health report is for staff and monitors"
            )
        return json_error(
            request,
            401,
            "not_authenticated",
            "log in as staff or send 'Authorization: Bearer <TRELLIS_MONITORING_TOKEN>'; "
            "/health/live and /health/ready need no login",
            headers={"WWW-Authenticate": 'Bearer realm="trellis"'},
        )
    try:
        report = _deep_report(request.GET.get("only"))
    except UnknownCheck as exc:
        return json_error(request, 404, "unknown_check", str(exc), field="only")
    return JsonResponse(report.as_dict(), status=_status(report))


@require_safe
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    """The plugin dashboard: plugins, health, plugins' panels, providers, hooks with timings."""
    if not is_monitor(request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return HttpResponse("The Trellis dashboard is for staff.", status=403)
        return redirect_to_login(request.get_full_path())
    host = get_host()
    providers = []
    for name, contract in host.contracts().items():
        available = host.providers(name)
        hooks = [h for h in host.hooks() if h.contract == name and h.kind == "provider"]
        if not hooks:
            continue
        try:
            selected, problem = host.selected_provider(name), ""
        except ProviderError as exc:
            selected, problem = "", str(exc)
        providers.append(
            {
                "contract": contract,
                "available": sorted(available),
                "selected": selected,
                "problem": problem,
            }
        )
    health = _deep_report()  # first, so the hook counters below include this run
    plugins = host.plugins()
    context = {
        "profile": getattr(settings, "TRELLIS_PROFILE", "embedded"),
        "plugins": plugins,
        "counts": {
            status: sum(1 for p in plugins if p.status == status)
            for status in ("active", "quarantined", "disabled")
        },
        "contracts": host.contracts().values(),
        "providers": providers,
        "hooks": host.hooks(),
        "health": health,
        "monitoring": host.monitor.enabled,
        "panels": render_panels(host),
    }
    return render(request, "trellis_core/dashboard.html", context)


@api_view
@require_safe
def openapi(request: HttpRequest) -> JsonResponse:
    """The service's OpenAPI 3.1 document (every installed plugin's API); any logged-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        message = "log in (or send an API key) to read the API document"
        return json_error(request, 401, "not_authenticated", message)
    response = JsonResponse(openapi_document(get_host()))
    response["Cache-Control"] = "private, no-cache"
    return response
