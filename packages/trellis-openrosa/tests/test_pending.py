"""Split submissions whose last request never comes are removed after a while."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from trellis import openrosa
from trellis.blobs.models import BlobMeta
from trellis.openrosa import periodic
from trellis.openrosa.models import PendingSubmission

from .collect import instance
from .conftest import IMAGES, PASSWORD

pytestmark = pytest.mark.django_db

AUTH = "Basic " + base64.b64encode(f"ada:{PASSWORD}".encode()).decode()


def wait(instance_id: str) -> None:
    xml = instance(
        "site_photo",
        "1",
        "<place>Gulu</place><photo>one.jpg</photo><second>two.jpg</second>",
        instance_id=instance_id,
    )
    response = Client().post(
        "/a/demo/submission",
        {
            "xml_submission_file": SimpleUploadedFile("s.xml", xml, "text/xml"),
            "one.jpg": SimpleUploadedFile("one.jpg", b"one", "image/jpeg"),
            "*isIncomplete*": "yes",
        },
        HTTP_AUTHORIZATION=AUTH,
        HTTP_X_OPENROSA_VERSION="1.0",
    )
    assert response.status_code == 202, response.content


def test_the_command_removes_old_waiting_submissions_and_their_files(
    field: Any, stored_files: Any, capsys: Any, django_capture_on_commit_callbacks: Any
) -> None:
    openrosa.xlsform_add(domain="demo", content=IMAGES.encode(), filename="site.md")
    before = stored_files()
    wait("uuid:old")
    wait("uuid:new")
    PendingSubmission.objects.filter(instance_id="uuid:old").update(
        updated_at=timezone.now() - timedelta(days=8)
    )
    with django_capture_on_commit_callbacks(execute=True):  # content goes once rows commit
        call_command("openrosa_pending_expire")
    assert "1 waiting submission(s) removed" in capsys.readouterr().out
    assert list(PendingSubmission.objects.values_list("instance_id", flat=True)) == ["uuid:new"]
    assert BlobMeta.objects.filter(parent_id="uuid:old").count() == 0
    assert BlobMeta.objects.filter(parent_id="uuid:new").count() == 2  # its XML and one.jpg
    assert len(stored_files()) == len(before) + 2  # the removed ones' content went at commit


def test_the_periodic_task_runs_the_same_removal(field: Any) -> None:
    openrosa.xlsform_add(domain="demo", content=IMAGES.encode(), filename="site.md")
    wait("uuid:any")
    [schedule] = periodic.tasks_schedules()
    assert (schedule.name, schedule.every) == ("openrosa.expire_pending", timedelta(days=1))
    assert periodic.expire_pending() == 0  # not old yet
    assert periodic.expire_pending(older_than_hours=0) == 1
    assert not PendingSubmission.objects.exists()


def test_a_bad_age_is_refused(field: Any) -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="positive"):
        call_command("openrosa_pending_expire", "--older-than", "0")
