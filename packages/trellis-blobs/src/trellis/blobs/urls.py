"""URLs of trellis-blobs: ``<key>`` downloads a blob (the plugin mounts them at ``blobs/``)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "blobs"
urlpatterns = [
    path("<path:key>", views.download, name="download"),
]
