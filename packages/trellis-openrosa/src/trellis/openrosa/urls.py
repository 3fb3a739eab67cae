"""URLs of trellis-openrosa, mounted at ``a/`` by the ``openrosa`` plugin."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "openrosa"

urlpatterns = [
    path("<str:domain>/formList", views.form_list, name="form_list"),
    path("<str:domain>/submission", views.submission, name="submission"),
    path(
        "<str:domain>/forms/<str:form_id>/<str:version>/form.xml",
        views.form_download,
        name="form",
    ),
    path(
        "<str:domain>/forms/<str:form_id>/<str:version>/manifest",
        views.manifest,
        name="manifest",
    ),
    path(
        "<str:domain>/forms/<str:form_id>/<str:version>/media/<str:name>",
        views.media,
        name="media",
    ),
]
