"""blobs_can_read: members of an attachment's domain download it; others get 404."""

from __future__ import annotations

import pytest
from django.test import Client

from trellis import blobs, forms

pytestmark = pytest.mark.django_db


def test_members_read_attachments_of_their_domain_only(demo, django_user_model) -> None:
    result = forms.submit(
        domain="demo",
        form="household_visit",
        submission_id="s-1",
        data={"household_id": "h", "village": "v", "household_size": 1},
        attachments=[forms.Attachment("photo", b"picture", "image/png")],
    )
    key = result.attachments[0]["key"]
    info = blobs.get_info(key)
    assert blobs.can_read(demo.user, info)
    assert not blobs.can_read(demo.outsider, info)
    member = Client()
    member.force_login(demo.user)
    download = member.get(f"/blobs/{key}")
    assert download.status_code == 200
    assert download.getvalue() == b"picture"
    outsider = Client()
    outsider.force_login(demo.outsider)
    assert outsider.get(f"/blobs/{key}").status_code == 404
    demo.user.is_active = False
    demo.user.save()
    assert not blobs.can_read(demo.user, info)
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    assert blobs.can_read(staff, info)


def test_the_hook_abstains_for_non_members(demo) -> None:
    from trellis.forms import plugin

    result = forms.submit(
        domain="demo",
        form="household_visit",
        submission_id="s-2",
        data={"household_id": "h", "village": "v", "household_size": 1},
        attachments=[forms.Attachment("a", b"x")],
    )
    info = blobs.get_info(result.attachments[0]["key"])
    assert plugin.blobs_can_read(user=demo.user, info=info) is True
    assert plugin.blobs_can_read(user=demo.outsider, info=info) is None  # never False
