"""XForms (from XLSForms) with their media, Digest credentials, and split submissions waiting
for their last file.

Write them through :mod:`trellis.openrosa` (``xlsform_add``, ``media_add``); submissions
themselves are trellis-forms submissions.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from trellis.forms.models import Domain, FormDefinition


class XForm(models.Model):
    """One version of a form as field clients download it, and the forms definition it fills."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="+")
    form_id = models.CharField(max_length=63, help_text="the XForm's id (XLSForm form_id)")
    version = models.CharField(max_length=100, blank=True, help_text="the XForm's version")
    title = models.CharField(max_length=200)
    definition = models.OneToOneField(
        FormDefinition, on_delete=models.PROTECT, related_name="xform"
    )
    xml = models.TextField(help_text="the XForm, as clients download it")
    md5 = models.CharField(max_length=32, help_text="md5 of the XForm (formList's hash)")
    fields: models.JSONField[Any] = models.JSONField(help_text="the instance tree")
    binary_fields: models.JSONField[Any] = models.JSONField(default=list)
    media_names: models.JSONField[Any] = models.JSONField(default=list)
    encrypted = models.BooleanField(default=False)
    source_name = models.CharField(max_length=200, help_text="the XLSForm's file name")
    source_key = models.CharField(max_length=64, help_text="the XLSForm in trellis-blobs")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "XForm"
        ordering = ["domain__name", "form_id", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "form_id", "version"], name="trellis_openrosa_xform_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.form_id} {self.version}".strip()


class MediaFile(models.Model):
    """A file an XForm references (an image, a CSV for choices), served from trellis-blobs."""

    xform = models.ForeignKey(XForm, on_delete=models.CASCADE, related_name="media")
    name = models.CharField(max_length=100)
    key = models.CharField(max_length=64)
    md5 = models.CharField(max_length=32)
    content_type = models.CharField(max_length=255)
    length = models.PositiveBigIntegerField()

    class Meta:
        verbose_name = "media file"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["xform", "name"], name="trellis_openrosa_media_unique")
        ]

    def __str__(self) -> str:
        return self.name


class PendingSubmission(models.Model):
    """A submission sent in several requests (``*isIncomplete*``) whose files are not all
    here yet. Its XML and files wait in trellis-blobs; once the last file arrives it becomes
    a trellis-forms submission and this row and its blobs are removed."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="+")
    instance_id = models.CharField(max_length=100)
    xform = models.ForeignKey(XForm, on_delete=models.CASCADE, related_name="+")
    deprecated_id = models.CharField(max_length=100, blank=True, help_text="an edit's")
    xml_sha256 = models.CharField(max_length=64)
    xml_key = models.CharField(max_length=64)
    files: models.JSONField[Any] = models.JSONField(default=list)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "pending submission"
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "instance_id"], name="trellis_openrosa_pending_unique"
            )
        ]

    def __str__(self) -> str:
        return self.instance_id


class DigestCredential(models.Model):
    """``md5(username:realm:password)`` of a user, recorded when the password is set, so the
    user can answer OpenRosa's Digest challenge. As sensitive as the password on OpenRosa
    routes: shown nowhere, and removed with the user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    realm = models.CharField(max_length=100)
    username = models.CharField(max_length=150)
    ha1 = models.CharField(max_length=32)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "Digest credential"
        constraints = [
            models.UniqueConstraint(fields=["user", "realm"], name="trellis_openrosa_digest_user")
        ]


class DigestNonce(models.Model):
    """The highest nonce count seen per nonce: a replayed Digest answer is refused."""

    nonce = models.CharField(max_length=100, unique=True)
    count = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
