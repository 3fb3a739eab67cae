"""URLconf of the composed test project: every active plugin's mounts, as hq does."""

from __future__ import annotations

from trellis.core.django import plugin_urlpatterns

urlpatterns = plugin_urlpatterns()
