"""The admin's XLSForm upload, found by an outside review."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

pytestmark = pytest.mark.django_db

MD = b"""
| survey |
|        | type | name | label |
|        | text | a    | A     |
| settings |
|          | form_id | version |
|          | sneaky  | 1       |
"""


def test_staff_without_the_add_permission_cannot_upload_an_xlsform(
    field: Any, django_user_model: Any
) -> None:
    """The upload view replaced ModelAdmin.add_view without its permission check: any staff
    user (no permission at all) could define forms in any domain."""
    from trellis.forms.models import Domain
    from trellis.openrosa.models import XForm

    staff = django_user_model.objects.create_user("staffer", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/trellis_openrosa/xform/add/").status_code == 403
    response = client.post(
        "/admin/trellis_openrosa/xform/add/",
        {
            "domain": Domain.objects.get(name="demo").pk,
            "xlsform": SimpleUploadedFile("sneaky.md", MD),
        },
    )
    assert response.status_code == 403
    assert not XForm.objects.filter(form_id="sneaky").exists()


def test_a_superuser_can_upload_an_xlsform(field: Any, django_user_model: Any) -> None:
    from trellis.forms.models import Domain
    from trellis.openrosa.models import XForm

    admin = django_user_model.objects.create_superuser("boss", "boss@example.org", "pw")
    client = Client()
    client.force_login(admin)
    assert client.get("/admin/trellis_openrosa/xform/add/").status_code == 200
    response = client.post(
        "/admin/trellis_openrosa/xform/add/",
        {
            "domain": Domain.objects.get(name="demo").pk,
            "xlsform": SimpleUploadedFile("sneaky.md", MD),
        },
    )
    assert response.status_code == 302
    assert XForm.objects.filter(form_id="sneaky").exists()
