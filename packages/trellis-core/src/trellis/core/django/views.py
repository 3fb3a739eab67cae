"""Thin views: the plugin dashboard and the ``/health`` JSON endpoint."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .._errors import ProviderError, UnknownCheck
from .._global import get_host
from .._health import run_health_checks


@require_GET
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Run health checks; 200 unless a check fails (503). ``?only=<name>`` runs one check."""
    only = request.GET.get("only")
    try:
        report = run_health_checks(get_host(), only=only)
    except UnknownCheck as exc:
        return JsonResponse(
            {"code": "unknown_check", "message": str(exc), "field": "only"}, status=404
        )
    return JsonResponse(report.as_dict(), status=503 if report.status == "fail" else 200)


@require_GET
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    """The plugin dashboard: plugins, contracts, providers, hooks with timings, health."""
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
    health = run_health_checks(host)  # first, so the hook counters below include this run
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
    }
    return render(request, "trellis_core/dashboard.html", context)
