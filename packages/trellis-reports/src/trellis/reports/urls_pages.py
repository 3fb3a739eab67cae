"""Page URLs of trellis-reports (the plugin mounts them at ``reports/``; login required)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("<str:domain>/<str:slug>/", views.report_page, name="report"),
]
