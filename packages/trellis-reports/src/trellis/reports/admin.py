"""Admin: report definitions, validated on save like ``report_define``, with a rebuild action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from ._errors import ReportsError
from .models import Report
from .services import report_define, report_rebuild


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("domain", "slug", "title", "source_topic", "groups", "records", "needs_rebuild")
    list_filter = ("domain", "source_topic", "needs_rebuild")
    search_fields = ("domain", "slug", "title")
    fields = (
        "domain",
        "slug",
        "title",
        "source_topic",
        "filters",
        "group_by",
        "aggregates",
        "chart",
        "needs_rebuild",
        "version",
        "records",
        "groups",
        "rebuilt_at",
        "applied_at",
    )
    actions = ["rebuild"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        status = ("needs_rebuild", "version", "records", "groups", "rebuilt_at", "applied_at")
        # A report is known by its domain and slug: changing them would orphan its numbers.
        return ("domain", "slug", *status) if obj is not None else status

    def save_model(
        self, request: HttpRequest, obj: Report, form: ModelForm[Report], change: bool
    ) -> None:
        # The form has validated with Report.clean() (the same validation); the service
        # decides whether the change empties the report until it is rebuilt.
        saved = report_define(
            domain=obj.domain,
            slug=obj.slug,
            title=obj.title,
            source_topic=obj.source_topic,
            filters=obj.filters or [],
            group_by=obj.group_by or [],
            aggregates=obj.aggregates or [],
            chart=obj.chart or None,
        )
        obj.pk = saved.pk
        obj.refresh_from_db()
        if obj.needs_rebuild:
            self.message_user(
                request,
                f"Report {obj} needs a rebuild to count the records it has not seen (none "
                f"if domain {obj.domain} has no records yet): use the “Rebuild” action or "
                f"manage.py reports_rebuild {obj.domain} {obj.slug}.",
                messages.WARNING,
            )

    @admin.action(description="Rebuild the selected reports from their raw records")
    def rebuild(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        for report in queryset.order_by("domain", "slug"):
            try:
                result = report_rebuild(domain=report.domain, slug=report.slug)
            except ReportsError as exc:
                self.message_user(request, f"{report}: {exc}", messages.ERROR)
            except Exception as exc:  # its source failed: the rebuild rolled back
                self.message_user(
                    request,
                    f"{report}: not rebuilt, its numbers are unchanged: "
                    f"{exc.__class__.__name__}: {exc}",
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    f"Rebuilt {report}: {result.counted} record(s) in {result.groups} row(s).",
                )
