from __future__ import annotations

from trellis.core.django import plugin_urlpatterns

urlpatterns = [*plugin_urlpatterns()]
