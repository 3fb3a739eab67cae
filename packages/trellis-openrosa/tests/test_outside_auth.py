"""Authentication cases found by an outside review."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_basic_is_refused_when_the_environment_says_production(
    field: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``TRELLIS_PROFILE=production`` in the environment (the settings rule: environment, then
    Django setting; what trellis-blobs reads) refuses Basic over plain HTTP too, also in a
    project whose settings module does not copy the profile into a setting."""
    monkeypatch.setenv("TRELLIS_PROFILE", "production")
    basic = "Basic " + base64.b64encode(f"ada:{PASSWORD}".encode()).decode()
    response = Client().get(
        "/a/demo/formList", HTTP_AUTHORIZATION=basic, HTTP_X_OPENROSA_VERSION="1.0"
    )
    assert response.status_code == 401, response.content
    assert b"refused over plain HTTP" in response.content
    assert response["WWW-Authenticate"].startswith("Digest ")
