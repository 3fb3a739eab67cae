"""Blob metadata in SQL; the content lives in the selected provider under the same key."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class BlobMeta(models.Model):
    """One stored blob: who owns it, what it is, and the length and sha256 of its content.

    Write it only through :mod:`trellis.blobs` (``put``, ``delete``...), which keeps it and the
    provider's content in step.
    """

    key = models.CharField(max_length=255, unique=True)
    domain = models.CharField(max_length=255)
    parent_id = models.CharField(max_length=255)
    type_code = models.IntegerField()
    name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=255)
    length = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "blob"
        indexes = [
            models.Index(fields=["domain", "parent_id"], name="trellis_blobs_domain_parent"),
            models.Index(fields=["parent_id", "type_code"], name="trellis_blobs_parent_type"),
            # Most blobs never expire: index only those that do (the expiry job's query).
            models.Index(
                fields=["expires"],
                name="trellis_blobs_expires",
                condition=Q(expires__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.key
