"""Admin: XForms (added by uploading an XLSForm), their media files, split submissions
waiting for files (read-only). Digest credentials and nonces are not shown."""

from __future__ import annotations

from typing import Any

from django import forms as django_forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from trellis import forms

from ._errors import OpenRosaError
from ._xlsform import XLSFormError
from .models import MediaFile, PendingSubmission, XForm
from .services import media_add, xlsform_add


class XLSFormUpload(django_forms.Form):
    domain: django_forms.ModelChoiceField[Any] = django_forms.ModelChoiceField(
        queryset=None  # set per form: the domains there are now
    )
    xlsform = django_forms.FileField(help_text="an .xlsx file, or pyxform markdown tables (.md)")
    media_file = django_forms.FileField(
        required=False,
        label="Media",
        help_text="one file the form references (more: manage.py openrosa_xlsform --media)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from trellis.forms.models import Domain

        super().__init__(*args, **kwargs)
        self.fields["domain"].queryset = Domain.objects.all()  # type: ignore[attr-defined]


class MediaInline(admin.TabularInline):  # type: ignore[type-arg]
    model = MediaFile
    fields = ("name", "content_type", "length", "md5")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(XForm)
class XFormAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Add one by uploading its XLSForm; XForms are immutable after that."""

    list_display = ("form_id", "version", "title", "domain", "encrypted", "created_at")
    list_filter = ("domain",)
    search_fields = ("form_id", "title")
    inlines = [MediaInline]
    readonly_fields = (
        "domain",
        "form_id",
        "version",
        "title",
        "definition",
        "md5",
        "encrypted",
        "media_names",
        "source_name",
        "created_at",
        "xml",
    )
    exclude = ("fields", "binary_fields", "source_key")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        from django.core.exceptions import PermissionDenied
        from django.template.response import TemplateResponse

        if not self.has_add_permission(request):
            raise PermissionDenied
        upload = XLSFormUpload(request.POST or None, request.FILES or None)
        if request.method == "POST" and upload.is_valid():
            domain = upload.cleaned_data["domain"].name
            sent = upload.cleaned_data["xlsform"]
            try:
                xform = xlsform_add(domain=domain, content=sent.read(), filename=sent.name)
                extra = upload.cleaned_data.get("media_file")
                if extra is not None:
                    media_add(
                        domain=domain,
                        form_id=xform.form_id,
                        version=xform.version,
                        name=extra.name,
                        content=extra.read(),
                        content_type=extra.content_type or "application/octet-stream",
                    )
            except XLSFormError as exc:
                upload.add_error("xlsform", [exc.message, *exc.errors[:20]])
            except (OpenRosaError, forms.FormsError) as exc:
                upload.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"form {xform.form_id!r} version {xform.version!r} added to {domain!r}: "
                    f"field clients see it in /a/{domain}/formList",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect("../")
        context = {
            **self.admin_site.each_context(request),
            "title": "Add an XLSForm",
            "opts": self.model._meta,
            "upload": upload,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/trellis_openrosa/xlsform_upload.html", context)


@admin.register(PendingSubmission)
class PendingSubmissionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Split submissions whose last file has not arrived (shown, never edited here)."""

    list_display = ("instance_id", "domain", "xform", "user", "created_at", "updated_at")
    list_filter = ("domain",)
    readonly_fields = ("domain", "instance_id", "xform", "deprecated_id", "files", "user")
    exclude = ("xml_sha256", "xml_key")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
