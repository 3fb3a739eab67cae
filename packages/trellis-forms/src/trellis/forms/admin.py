"""Admin: domains, members, API keys (secret shown once), definitions (validated on save),
submissions and cases (read-only, cases with their history inline)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from ._auth import authorization, digest, new_secret
from .models import (
    ApiKey,
    Case,
    CaseChange,
    Domain,
    FormDefinition,
    Membership,
    Submission,
    SubmissionRevision,
)


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    """Written only by ``submit``: the admin shows them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "title", "created_at")
    search_fields = ("name", "title")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("domain", "user", "created_at")
    list_filter = ("domain",)
    search_fields = ("user__username",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Adding a key shows its secret once, in a message; only its sha256 is kept."""

    list_display = ("name", "user", "created_at", "revoked")
    list_filter = ("revoked",)
    search_fields = ("name", "user__username")
    fields = ("user", "name", "revoked")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("user", "name", "created_at") if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("user", "name", "created_at", "revoked") if obj is not None else ("user", "name")

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        secret = new_secret()
        obj.digest = digest(secret)
        super().save_model(request, obj, form, change)
        self.message_user(
            request,
            "Copy the new key now; it is not stored and will not be shown again. Header: "
            f"Authorization: {authorization(obj.user.get_username(), secret)}",
            messages.WARNING,
        )


@admin.register(FormDefinition)
class FormDefinitionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Saving runs the same validation as ``form_define`` (``FormDefinition.clean``)."""

    list_display = ("name", "version", "domain", "title", "created_at")
    list_filter = ("domain",)
    search_fields = ("name", "title")


class RevisionInline(admin.TabularInline):  # type: ignore[type-arg]
    """The revisions an edit replaced, oldest first."""

    model = SubmissionRevision
    fields = ("revision", "revision_id", "form_version", "username", "replaced_at", "data")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Submission)
class SubmissionAdmin(ReadOnly):
    list_display = (
        "submission_id",
        "form_name",
        "form_version",
        "revision",
        "domain",
        "username",
        "received_at",
    )
    list_filter = ("domain", "form_name")
    search_fields = ("submission_id", "current_id")
    exclude = ("fingerprint",)
    inlines = [RevisionInline]


class CaseChangeInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CaseChange
    fields = ("changed_at", "action", "submission", "changed", "properties", "closed")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(ReadOnly):
    list_display = ("case_id", "case_type", "domain", "closed", "modified_at")
    list_filter = ("domain", "case_type", "closed")
    search_fields = ("case_id",)
    inlines = [CaseChangeInline]
