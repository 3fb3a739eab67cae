"""One URL: the receiver."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [path("a/<str:domain>/receiver/", views.receiver)]
