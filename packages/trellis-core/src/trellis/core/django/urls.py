"""URLs of trellis-core's app, mounted at the site root by its built-in plugin."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "trellis"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("health", views.health, name="health"),
    path("health/live", views.live, name="live"),
    path("health/ready", views.ready, name="ready"),
    path("api/openapi.json", views.openapi, name="openapi"),
]
