"""API URLs of trellis-reports (the plugin mounts them at ``a/``, api=True)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "reports_api"
urlpatterns = [
    path("<str:domain>/api/reports/", views.report_list_view, name="list"),
    path("<str:domain>/api/reports/<str:slug>/", views.report_view, name="report"),
]
