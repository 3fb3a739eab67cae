"""Read-only admin for blob metadata: browse and search; writes go through the facade."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from .models import BlobMeta

if TYPE_CHECKING:  # ModelAdmin is generic only in django-stubs, not at run time
    _ModelAdmin = admin.ModelAdmin[BlobMeta]
else:
    _ModelAdmin = admin.ModelAdmin


@admin.register(BlobMeta)
class BlobMetaAdmin(_ModelAdmin):
    """Metadata rows, newest first. Nothing is editable: content and rows must stay in step."""

    list_display = (
        "key",
        "domain",
        "parent_id",
        "type_code",
        "name",
        "content_type",
        "length",
        "created",
        "expires",
    )
    list_filter = ("domain", "type_code", ("expires", admin.EmptyFieldListFilter))
    # Exact matches on key and parent_id use their indexes; the table may hold millions of rows,
    # so no date hierarchy, no ordering without an index and no second COUNT(*).
    search_fields = ("=key", "=parent_id", "name")
    ordering = ("-pk",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
