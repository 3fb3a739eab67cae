"""URLs of trellis-remote, mounted at ``remote/`` by its plugin."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "remote"
urlpatterns = [
    path("<slug:contract>/", views.call, name="describe"),
    path("<slug:contract>/<slug:hook>", views.call, name="call"),
]
