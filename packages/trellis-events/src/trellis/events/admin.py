"""Admin: dead letters (with a replay action) and the outbox, read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import DeadLetter, OutboxEvent
from .services import dead_letters_replay


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnly):
    list_display = ("id", "topic", "key", "partition", "position", "published_at")
    list_filter = ("topic",)
    search_fields = ("key",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnly):
    list_display = ("id", "processor", "topic", "key", "event_id", "attempts", "last_failed_at")
    list_filter = ("processor", "topic")
    search_fields = ("key", "error")
    actions = ["replay"]

    @admin.action(description="Replay the selected dead letters")
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        report = dead_letters_replay(ids=list(queryset.values_list("pk", flat=True)))
        if report.replayed:
            self.message_user(request, f"Replayed {len(report.replayed)} dead letter(s).")
        for pk, error in report.failed.items():
            self.message_user(request, f"Dead letter {pk} failed again: {error}", messages.ERROR)
