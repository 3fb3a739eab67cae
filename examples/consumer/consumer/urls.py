"""URLs of the consumer: the admin, and whatever installed Trellis plugins mount."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from trellis.core.django import plugin_urlpatterns

urlpatterns = [path("admin/", admin.site.urls), *plugin_urlpatterns()]
