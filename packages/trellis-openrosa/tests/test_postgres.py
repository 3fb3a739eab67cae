"""Concurrent OpenRosa requests of one instance on PostgreSQL (the scaled profile).

Threads (each its own connection) have all parsed the XML and counted its files before any
writes (a barrier holds them there), so the unique constraints and row locks decide: one submission,
every file merged into it, every request answered 201 or 202, no waiting row and no blob
left over.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.postgres

SCRIPT = """
import io
import json
import threading

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command

from trellis import forms, openrosa
from trellis.blobs.models import BlobMeta
from trellis.forms.models import Submission
from trellis.openrosa import _receive
from trellis.openrosa.models import PendingSubmission

call_command("migrate", verbosity=0)
forms.domain_create(name="demo")
user = get_user_model().objects.create_user("ada")
forms.member_add(domain="demo", user=user)
openrosa.xlsform_add(domain="demo", content=FORM.encode(), filename="site.md")
from trellis.forms.models import Domain
domain = Domain.objects.get(name="demo")

original = _receive.expected_files
state = threading.local()

def race(requests):
    barrier = threading.Barrier(len(requests), timeout=30)

    def held(*args, **kwargs):
        found = original(*args, **kwargs)
        if not getattr(state, "passed", False):
            state.passed = True
            barrier.wait()  # every thread is about to look for an earlier submission
        return found

    _receive.expected_files = held
    answers = [None] * len(requests)

    def run(index, files, incomplete):
        state.passed = False
        uploads = [_receive.Upload(n, io.BytesIO(c), "image/jpeg") for n, c in files.items()]
        try:
            outcome = _receive.receive(
                domain=domain, xml=XML, uploads=uploads, incomplete=incomplete, user=user
            )
            answers[index] = outcome.status
        except Exception as exc:
            answers[index] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=run, args=(i, *r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _receive.expected_files = original
    return answers

XML = (
    '<data id="site_photo" version="1"><place>Gulu</place><photo>one.jpg</photo>'
    "<second>two.jpg</second><meta><instanceID>uuid:race</instanceID></meta></data>"
).encode()
results = {}
# 1. four complete requests at once, each with other files
results["complete"] = race(
    [({"one.jpg": b"1"}, False), ({"two.jpg": b"2"}, False),
     ({"one.jpg": b"1", "two.jpg": b"2"}, False), ({}, False)]
)
row = Submission.objects.get(current_id="uuid:race")
results["complete_files"] = sorted(a["name"] for a in row.attachments)
results["complete_rows"] = Submission.objects.count()
# 2. split requests racing: both wait first, then the last one completes
XML = XML.replace(b"uuid:race", b"uuid:split")
results["split"] = race([({"one.jpg": b"1"}, True), ({"one.jpg": b"1"}, True)])
results["pending"] = PendingSubmission.objects.count()
results["split_last"] = race([({"two.jpg": b"2"}, False)])
row = Submission.objects.get(current_id="uuid:split")
results["split_files"] = sorted(a["name"] for a in row.attachments)
results["pending_after"] = PendingSubmission.objects.count()
attached = sum(len(s.attachments) for s in Submission.objects.all())
results["orphan_blobs"] = BlobMeta.objects.exclude(type_code=20).count() - attached
print(json.dumps(results))
"""


def test_concurrent_requests_of_one_instance(trellis_postgres_script: Any) -> None:
    from .conftest import IMAGES

    found = trellis_postgres_script(f"FORM = {IMAGES!r}\n" + SCRIPT)
    assert found["complete"] == [201, 201, 201, 201], found
    assert found["complete_rows"] == 1
    assert found["complete_files"] == ["one.jpg", "two.jpg", "xml_submission_file"]
    assert found["split"] == [202, 202], found
    assert found["pending"] == 1
    assert found["split_last"] == [201]
    assert found["split_files"] == ["one.jpg", "two.jpg", "xml_submission_file"]
    assert found["pending_after"] == 0
    assert found["orphan_blobs"] == 0
