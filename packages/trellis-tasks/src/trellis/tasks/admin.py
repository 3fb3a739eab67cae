"""Read-only admin of durable task records: what is pending, what failed and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin

from .models import QueueHeartbeat, TaskRecord

if TYPE_CHECKING:  # ModelAdmin is generic only in django-stubs, not at run time
    _RecordAdmin = admin.ModelAdmin[TaskRecord]
    _HeartbeatAdmin = admin.ModelAdmin[QueueHeartbeat]
else:
    _RecordAdmin = _HeartbeatAdmin = admin.ModelAdmin


@admin.register(TaskRecord)
class TaskRecordAdmin(_RecordAdmin):
    list_display = ("id", "name", "queue", "state", "attempts", "enqueued_at", "finished_at")
    list_filter = ("state", "queue")
    search_fields = ("id", "name")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(QueueHeartbeat)
class QueueHeartbeatAdmin(_HeartbeatAdmin):
    list_display = ("queue", "provider", "picked_at")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
