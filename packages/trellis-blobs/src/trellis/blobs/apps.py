"""Django app of trellis-blobs: the ``BlobMeta`` model, its admin and management commands."""

from __future__ import annotations

from django.apps import AppConfig


class BlobsConfig(AppConfig):
    """Added to ``INSTALLED_APPS`` by the ``blobs`` plugin (or by hand: ``"trellis.blobs"``)."""

    name = "trellis.blobs"
    label = "trellis_blobs"
    verbose_name = "Blobs"
    default = True
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from ._checks import check_settings

        checks.register(check_settings)
