"""URLs of trellis-forms, mounted at ``a/`` with ``api=True`` by the ``forms`` plugin."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "forms"

urlpatterns = [
    path("<str:domain>/receiver/", views.receiver, name="receiver"),
    path("<str:domain>/api/cases/", views.cases, name="cases"),
    path("<str:domain>/api/cases/<str:case_id>/", views.case_detail, name="case"),
    path("<str:domain>/api/forms/", views.forms, name="forms"),
]
