"""The service's own app: creates the nonce cache table whenever ``migrate`` runs."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BlobsServiceConfig(AppConfig):
    name = "blobs_service"
    verbose_name = "Blobs service"
    default = True

    def ready(self) -> None:
        post_migrate.connect(_create_cache_tables, sender=self)


def _create_cache_tables(**kwargs: Any) -> None:
    from django.core.management import call_command

    call_command("createcachetable", database=kwargs.get("using", "default"), verbosity=0)
