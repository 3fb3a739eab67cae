"""URLconf of the composed test project: the admin and every active plugin's mounts, as hq."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from trellis.core.django import plugin_urlpatterns

urlpatterns = [path("admin/", admin.site.urls), *plugin_urlpatterns()]
