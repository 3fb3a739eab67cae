"""Split submissions (``*isIncomplete*``) racing each other, found by an outside review."""

from __future__ import annotations

import io
from typing import Any

import pytest

from .collect import instance
from .conftest import IMAGES

pytestmark = pytest.mark.django_db

BODY = "<place>Kobo</place><photo>a.jpg</photo><second>b.jpg</second>"


def test_an_incomplete_request_losing_to_the_one_that_stored_leaves_no_waiting_row(
    field: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests of one split submission at once: the first stores it (all files there);
    the second had looked for a stored submission just before that commit, found none, and
    then made a waiting row (202) that nothing ever completes or removes. It must merge into
    the stored submission instead, as a resend does."""
    from trellis import blobs, openrosa
    from trellis.forms.models import Domain, Submission
    from trellis.openrosa import _receive
    from trellis.openrosa.models import PendingSubmission

    openrosa.xlsform_add(domain="demo", content=IMAGES.encode(), filename="site.md")
    domain = Domain.objects.get(name="demo")
    xml = instance("site_photo", "1", BODY)

    def upload(name: str) -> _receive.Upload:
        return _receive.Upload(name, io.BytesIO(name.encode()), "image/jpeg")

    first = _receive.receive(
        domain=domain,
        xml=xml,
        uploads=[upload("a.jpg"), upload("b.jpg")],
        incomplete=False,
        user=field.worker,
    )
    assert first.status == 201

    real = _receive._stored
    calls = 0

    def stale_once(*args: Any) -> Any:
        # the second request's first look happened before the first request committed
        nonlocal calls
        calls += 1
        return None if calls == 1 else real(*args)

    monkeypatch.setattr(_receive, "_stored", stale_once)
    second = _receive.receive(
        domain=domain, xml=xml, uploads=[upload("b.jpg")], incomplete=True, user=field.worker
    )
    assert second.status == 201, second.message
    assert not PendingSubmission.objects.exists()
    assert not blobs.models.BlobMeta.objects.filter(type_code=_pending_type()).exists()
    assert Submission.objects.count() == 1


def _pending_type() -> int:
    from trellis.openrosa.services import PENDING_TYPE_CODE

    return PENDING_TYPE_CODE


REPEAT_PHOTOS = """
| survey |
|        | type         | name   | label  |
|        | begin repeat | kids   | Kids   |
|        | image        | photo  | Photo  |
|        | end repeat   |        |        |
| settings |
|          | form_id | version |
|          | album   | 1       |
"""


def test_a_split_submission_over_the_attachment_count_is_refused_at_its_first_request(
    field: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A submission naming more files than trellis-forms accepts per submission
    (TRELLIS_FORMS_MAX_ATTACHMENTS, the XML included) got 202s while its files were
    waiting, then a 413 at its last request, forever, with the files left waiting. It is
    refused at once, naming the setting, with nothing waiting."""
    from trellis import forms, openrosa
    from trellis.forms.models import Domain, Submission
    from trellis.openrosa import _receive
    from trellis.openrosa.models import PendingSubmission

    monkeypatch.setenv("TRELLIS_FORMS_MAX_ATTACHMENTS", "4")
    openrosa.xlsform_add(domain="demo", content=REPEAT_PHOTOS.encode(), filename="album.md")
    domain = Domain.objects.get(name="demo")
    body = "".join(f"<kids><photo>p{k}.jpg</photo></kids>" for k in range(4))
    xml = instance("album", "1", body)

    def upload(name: str) -> _receive.Upload:
        return _receive.Upload(name, io.BytesIO(name.encode()), "image/jpeg")

    with pytest.raises(forms.TooLarge, match="TRELLIS_FORMS_MAX_ATTACHMENTS"):
        _receive.receive(
            domain=domain,
            xml=xml,
            uploads=[upload("p0.jpg"), upload("p1.jpg")],
            incomplete=True,
            user=field.worker,
        )
    assert not PendingSubmission.objects.exists()
    assert not Submission.objects.exists()
    from trellis.blobs.models import BlobMeta

    assert not BlobMeta.objects.filter(type_code=_pending_type()).exists()
