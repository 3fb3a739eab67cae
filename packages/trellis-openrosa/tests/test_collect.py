"""An ODK Collect-like client (HEAD first, Digest, files split under the advertised limit)
against a live server: form list, downloads, and every kind of submission Collect sends."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from trellis import forms, openrosa
from trellis.forms.models import Case, Submission, SubmissionRevision

from .collect import Collect, SubmitFailed, instance
from .conftest import ENTITIES, IMAGES, REPEATS, encrypted_form

pytestmark = pytest.mark.django_db(transaction=True)

HOUSEHOLD = (
    "<household_id>hh-1</household_id><village>Kobo</village>"
    "<household_size>4</household_size><moved_away>no</moved_away>"
)


@pytest.fixture
def collect(live_server: Any, field: Any) -> Collect:
    return Collect(live_server.url, "demo", "ada", field.password)


def test_form_list_download_and_manifest(collect: Collect, live_server: Any) -> None:
    openrosa.xlsform_add(domain="demo", content=IMAGES.encode(), filename="site.md")
    openrosa.media_add(
        domain="demo",
        form_id="site_photo",
        name="logo.png",
        content=b"\x89PNG logo",
        content_type="image/png",
    )
    entries = collect.form_list()
    assert [(e["formID"], e["version"]) for e in entries] == [
        ("household_visit", "1"),
        ("site_photo", "1"),
    ]
    assert "manifestUrl" not in entries[0] and entries[1]["manifestUrl"]
    xform, media = collect.download(entries[1])  # checks the md5 hashes
    assert b'id="site_photo"' in xform
    assert media == {"logo.png": b"\x89PNG logo"}
    assert [e["formID"] for e in collect.form_list("household_visit")] == ["household_visit"]
    assert collect.form_list("nothing") == []


def test_a_simple_submission_lands_in_forms(collect: Collect) -> None:
    sent = collect.submit(instance("household_visit", "1", HOUSEHOLD, instance_id="uuid:a1"))
    assert sent.statuses == [201]
    assert "OpenRosaResponse" in sent.responses[0].text
    row = Submission.objects.get(submission_id="uuid:a1")
    assert row.data == {
        "household_id": "hh-1",
        "village": "Kobo",
        "household_size": 4,
        "moved_away": "no",
        "meta": {"instanceID": "uuid:a1"},
    }
    assert row.username == "ada"
    assert [a["name"] for a in row.attachments] == ["xml_submission_file"]


def test_orx_meta_and_repeats(collect: Collect) -> None:
    openrosa.xlsform_add(domain="demo", content=REPEATS.encode(), filename="census.md")
    body = (
        "<village>Lira</village><members><member_name>Ada</member_name><age>31</age></members>"
        "<members><member_name>Bo</member_name><age>4</age></members>"
    )
    collect.submit(instance("census", "2026.1", body, instance_id="uuid:r1", orx=True))
    data = Submission.objects.get(submission_id="uuid:r1").data
    assert data["members"] == [
        {"member_name": "Ada", "age": 31},
        {"member_name": "Bo", "age": 4},
    ]
    assert data["meta"] == {"instanceID": "uuid:r1"}


def photo_xml(instance_id: str, **extra: Any) -> bytes:
    body = "<place>Gulu</place><photo>one.jpg</photo><second>two.jpg</second>"
    return instance("site_photo", "1", body, instance_id=instance_id, **extra)


def test_files_split_across_requests_complete_with_the_last(
    collect: Collect, monkeypatch: pytest.MonkeyPatch, stored_files: Any
) -> None:
    openrosa.xlsform_add(domain="demo", content=IMAGES.encode(), filename="site.md")
    monkeypatch.setenv("TRELLIS_OPENROSA_MAX_BODY", str(150 * 1024))
    files = {"one.jpg": b"1" * 100 * 1024, "two.jpg": b"2" * 100 * 1024}
    sent = collect.submit(photo_xml("uuid:s1"), files)
    assert sent.statuses == [202, 201]
    assert "waiting for 1 more: two.jpg" in sent.responses[0].text
    row = Submission.objects.get(submission_id="uuid:s1")
    assert sorted(a["name"] for a in row.attachments) == [
        "one.jpg",
        "two.jpg",
        "xml_submission_file",
    ]
    from trellis import blobs
    from trellis.openrosa.models import PendingSubmission

    by_name = {a["name"]: a["key"] for a in row.attachments}
    assert blobs.read_bytes(by_name["two.jpg"]) == files["two.jpg"]
    assert not PendingSubmission.objects.exists()
    # the waiting copies are gone, rows and content: two XLSForms and the three files remain
    from trellis.blobs.models import BlobMeta

    assert sorted(BlobMeta.objects.values_list("name", flat=True)) == [
        "household.md",
        "one.jpg",
        "site.md",
        "two.jpg",
        "xml_submission_file",
    ]
    assert len(stored_files()) == 5


def test_a_resend_merges_new_files_and_is_never_a_second_record(collect: Collect) -> None:
    openrosa.xlsform_add(domain="demo", content=IMAGES.encode(), filename="site.md")
    xml = photo_xml("uuid:d1")
    # the device lost the second photo: the last request stores what there is
    first = collect.submit(xml, {"one.jpg": b"one"})
    assert first.statuses == [201]
    assert "without 1 file(s) it names: two.jpg" in first.responses[0].text
    again = collect.submit(xml, {"one.jpg": b"one", "two.jpg": b"two"})
    assert again.statuses == [201]
    assert "1 new file(s) added" in again.responses[0].text
    [row] = Submission.objects.all()
    assert sorted(a["name"] for a in row.attachments) == [
        "one.jpg",
        "two.jpg",
        "xml_submission_file",
    ]
    with pytest.raises(SubmitFailed) as caught:
        collect.submit(photo_xml("uuid:d1").replace(b"Gulu", b"Lira"))
    assert caught.value.response.status_code == 409
    assert Submission.objects.count() == 1


def test_an_edit_replaces_the_data_and_keeps_referenced_files(collect: Collect) -> None:
    openrosa.xlsform_add(domain="demo", content=IMAGES.encode(), filename="site.md")
    collect.submit(photo_xml("uuid:e1"), {"one.jpg": b"one", "two.jpg": b"two"})
    edited = instance(
        "site_photo",
        "1",
        "<place>Lira</place><photo>one.jpg</photo><second>three.jpg</second>",
        instance_id="uuid:e2",
        deprecated_id="uuid:e1",
    )
    assert collect.submit(edited, {"three.jpg": b"three"}).statuses == [201]
    [row] = Submission.objects.all()
    assert (row.submission_id, row.current_id, row.revision) == ("uuid:e1", "uuid:e2", 2)
    assert row.data["place"] == "Lira"
    assert sorted(a["name"] for a in row.attachments) == [
        "one.jpg",
        "three.jpg",
        "xml_submission_file",
    ]
    history = SubmissionRevision.objects.get()
    assert history.data["place"] == "Gulu"
    # Collect resending the edit, or the original, changes nothing
    assert collect.submit(edited).statuses == [201]
    assert collect.submit(photo_xml("uuid:e1")).statuses == [201]
    assert Submission.objects.get().revision == 2


def test_entities_update_cases(collect: Collect) -> None:
    openrosa.xlsform_add(domain="demo", content=ENTITIES.encode(), filename="trees.md")
    body = (
        "<species>Baobab</species><height>12</height>"
        '<meta><entity dataset="trees" create="1" id="t-1"><label>Baobab</label></entity>'
        "<instanceID>uuid:t1</instanceID></meta>"
    )
    xml = ('<?xml version="1.0"?><data id="tree_visit" version="1">' + body + "</data>").encode()
    assert collect.submit(xml).statuses == [201]
    case = Case.objects.get(case_id="t-1")
    assert (case.case_type, case.properties) == (
        "trees",
        {"label": "Baobab", "species": "Baobab", "height_m": 12},
    )


def test_encrypted_submissions_are_stored_as_they_are(collect: Collect) -> None:
    openrosa.xlsform_add(domain="demo", content=encrypted_form().encode(), filename="s.md")
    xml = (
        b'<?xml version="1.0"?><data id="sealed" version="1" encrypted="yes" '
        b'xmlns="http://www.opendatakit.org/xforms/encrypted">'
        b"<base64EncryptedKey>a2V5</base64EncryptedKey>"
        b'<orx:meta xmlns:orx="http://openrosa.org/xforms"><orx:instanceID>uuid:x1'
        b"</orx:instanceID></orx:meta>"
        b"<media><file>photo.jpg.enc</file></media>"
        b"<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>"
        b"<base64EncryptedElementSignature>c2ln</base64EncryptedElementSignature></data>"
    )
    files = {"submission.xml.enc": b"\x00sealed", "photo.jpg.enc": b"\x01sealed photo"}
    assert collect.submit(xml, files).statuses == [201]
    row = Submission.objects.get(submission_id="uuid:x1")
    assert row.data["encryptedXmlFile"] == "submission.xml.enc"
    from trellis import blobs

    by_name = {a["name"]: a["key"] for a in row.attachments}
    assert blobs.read_bytes(by_name["submission.xml.enc"]) == b"\x00sealed"
    assert blobs.read_bytes(by_name["xml_submission_file"]) == xml
    without_id = xml.replace(b"<orx:instanceID>uuid:x1</orx:instanceID>", b"")
    with pytest.raises(SubmitFailed) as caught:
        collect.submit(without_id, files)
    assert caught.value.response.status_code == 400
    assert "instanceID" in caught.value.response.text


def test_wrong_credentials_and_other_domains_get_a_digest_challenge(
    live_server: Any, field: Any
) -> None:
    wrong = Collect(live_server.url, "demo", "ada", "not the password")
    response = wrong.session.head(f"{wrong.base}/submission", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Digest realm="trellis"')
    outsider = Collect(live_server.url, "demo", "eve", field.password)
    with pytest.raises(SubmitFailed) as caught:
        outsider.submit(instance("household_visit", "1", HOUSEHOLD))
    assert caught.value.response.status_code == 401  # at the HEAD, before any body is sent
    refused = outsider.session.post(
        f"{outsider.base}/submission",
        files={"xml_submission_file": ("s.xml", instance("household_visit", "1", HOUSEHOLD))},
        timeout=10,
    )
    assert refused.status_code == 401
    assert "not a member of domain 'demo'" in refused.text
    assert not Submission.objects.exists()
    anonymous = requests.get(f"{live_server.url}/a/demo/formList", timeout=10)
    assert anonymous.status_code == 401
    assert "WWW-Authenticate" in anonymous.headers


def test_json_and_openrosa_submissions_share_tables(collect: Collect) -> None:
    collect.submit(instance("household_visit", "1", HOUSEHOLD, instance_id="uuid:o1"))
    forms.submit(
        domain="demo",
        form="household_visit",
        submission_id="json-1",
        data={"household_id": "hh-2", "village": "Kobo", "household_size": 2},
    )
    assert sorted(Submission.objects.values_list("form_name", "form_version")) == [
        ("household_visit", 1),
        ("household_visit", 1),
    ]
