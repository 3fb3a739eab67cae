"""WSGI entry point of the baseline: ``gunicorn bench.areas._forms_baseline.wsgi``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.areas._forms_baseline.settings")
application = get_wsgi_application()
