"""Changing stored submissions: ``attach`` (more files) and ``revise`` (an edit's new data)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trellis import forms
from trellis.events.models import OutboxEvent
from trellis.forms.models import Case, CaseChange, Submission, SubmissionRevision

pytestmark = pytest.mark.django_db

DATA = {"household_id": "hh-1", "village": "Kobo", "household_size": 4}


def first(**extra: Any) -> forms.SubmissionResult:
    return forms.submit(
        domain="demo",
        form="household_visit",
        submission_id="uuid:one",
        data=DATA,
        attachments=[forms.Attachment("a.jpg", b"photo a", "image/jpeg")],
        **extra,
    )


def published() -> list[tuple[str, str, Any]]:
    return [(e.topic, e.key, json.loads(e.payload)) for e in OutboxEvent.objects.order_by("id")]


def test_attach_adds_new_files_skips_identical_ones_and_publishes_nothing(demo) -> None:
    first()
    events = OutboxEvent.objects.count()
    result = forms.attach(
        domain="demo",
        submission_id="uuid:one",
        attachments=[
            forms.Attachment("a.jpg", b"photo a", "image/jpeg"),
            forms.Attachment("b.jpg", b"photo b", "image/jpeg"),
        ],
    )
    assert not result.created
    assert [a["name"] for a in result.attachments] == ["a.jpg", "b.jpg"]
    from trellis import blobs

    assert blobs.read_bytes(result.attachments[1]["key"]) == b"photo b"
    assert OutboxEvent.objects.count() == events
    # the resend of what is stored now is recognised as such
    again = forms.submit(
        domain="demo",
        form="household_visit",
        submission_id="uuid:one",
        data=DATA,
        attachments=[
            forms.Attachment("a.jpg", b"photo a", "image/jpeg"),
            forms.Attachment("b.jpg", b"photo b", "image/jpeg"),
        ],
    )
    assert not again.created


def test_attach_never_overwrites_a_file_and_writes_nothing_then(demo, stored_files) -> None:
    first()
    before = stored_files()
    with pytest.raises(forms.SubmissionConflict, match=r"'a\.jpg' with other content"):
        forms.attach(
            domain="demo",
            submission_id="uuid:one",
            attachments=[
                forms.Attachment("c.jpg", b"photo c", "image/jpeg"),
                forms.Attachment("a.jpg", b"other", "image/jpeg"),
            ],
        )
    assert stored_files() == before
    assert [a["name"] for a in Submission.objects.get().attachments] == ["a.jpg"]


def test_attach_to_an_unknown_submission_is_not_found(demo) -> None:
    with pytest.raises(forms.SubmissionNotFound):
        forms.attach(domain="demo", submission_id="uuid:none", attachments=[])


def edit(**overrides: Any) -> forms.SubmissionResult:
    arguments: dict[str, Any] = {
        "domain": "demo",
        "submission_id": "uuid:one",
        "new_id": "uuid:two",
        "form": "household_visit",
        "data": {**DATA, "household_size": 6, "village": "Lira"},
        "attachments": [forms.Attachment("b.jpg", b"photo b", "image/jpeg")],
        "keep": ["a.jpg"],
    }
    return forms.revise(**{**arguments, **overrides})


def test_revise_replaces_the_data_keeps_history_and_publishes_the_new_revision(demo) -> None:
    first()
    received = Submission.objects.get().received_at
    result = edit()
    assert result.created
    assert result.id == "uuid:one"  # the submission keeps its first id
    row = Submission.objects.get()
    assert (row.current_id, row.revision, row.received_at) == ("uuid:two", 2, received)
    assert row.data["household_size"] == 6
    assert [a["name"] for a in row.attachments] == ["a.jpg", "b.jpg"]
    [old] = SubmissionRevision.objects.all()
    assert (old.revision, old.revision_id, old.data) == (1, "uuid:one", DATA)
    case = Case.objects.get(case_id="hh-1")
    assert case.properties == {"village": "Lira", "size": 6}
    assert list(CaseChange.objects.values_list("action", flat=True)) == ["create", "update"]
    topics = [(t, k, p.get("revision")) for t, k, p in published()]
    assert topics == [
        ("form.submitted", "demo:uuid:one", 1),
        ("case.changed", "demo:hh-1", None),
        ("form.submitted", "demo:uuid:one", 2),
        ("case.changed", "demo:hh-1", None),
    ]
    assert published()[2][2]["data"]["village"] == "Lira"


def test_an_attachment_not_kept_leaves_the_current_revision(demo) -> None:
    first()
    edit(keep=[])
    assert [a["name"] for a in Submission.objects.get().attachments] == ["b.jpg"]
    assert [a["name"] for a in SubmissionRevision.objects.get().attachments] == ["a.jpg"]


def test_resending_an_edit_answers_like_a_resend_and_a_stale_edit_conflicts(demo) -> None:
    first()
    edit()
    assert not edit().created
    with pytest.raises(forms.SubmissionConflict, match="already replaced"):
        edit(new_id="uuid:three")
    with pytest.raises(forms.SubmissionConflict):
        edit(data={**DATA, "household_size": 9})
    # the first revision's resend through submit is still recognised, not a second record
    assert not first().created
    assert Submission.objects.count() == 1


def test_a_taken_new_id_conflicts_and_writes_nothing(demo, stored_files) -> None:
    first()
    forms.submit(domain="demo", form="household_visit", submission_id="uuid:two", data=DATA)
    files, events = stored_files(), OutboxEvent.objects.count()
    with pytest.raises(forms.SubmissionConflict, match="already taken"):
        edit()
    assert stored_files() == files
    assert OutboxEvent.objects.count() == events
    assert not SubmissionRevision.objects.exists()
    assert Submission.objects.get(submission_id="uuid:one").revision == 1


def test_a_new_submission_under_an_edits_id_conflicts(demo) -> None:
    first()
    edit()
    with pytest.raises(forms.SubmissionConflict):
        forms.submit(domain="demo", form="household_visit", submission_id="uuid:two", data=DATA)


def test_an_edit_is_validated_like_a_submission(demo, stored_files) -> None:
    first()
    files = stored_files()
    with pytest.raises(forms.ValidationFailed):
        edit(data={**DATA, "household_size": 0})
    with pytest.raises(forms.SubmissionNotFound):
        edit(submission_id="uuid:none")
    assert stored_files() == files
    assert not SubmissionRevision.objects.exists()


def test_submit_with_the_definition_looked_up_runs_one_statement_less(
    demo, django_assert_num_queries
) -> None:
    from trellis.forms.models import Domain, FormDefinition

    domain = Domain.objects.get(name="demo")
    definition = FormDefinition.objects.get(domain=domain, name="household_visit")
    data = {"household_id": "hh-q", "village": "Kobo", "household_size": 2}
    with django_assert_num_queries(10):
        forms.submit(domain=domain, form="household_visit", submission_id="q-1", data=data)
    with django_assert_num_queries(9):
        forms.submit(
            domain=domain,
            form="household_visit",
            submission_id="q-2",
            data=data,
            definition=definition,
        )
    with pytest.raises(ValueError, match="is not form 'other'"):
        forms.submit(
            domain=domain, form="other", submission_id="q-3", data=data, definition=definition
        )


def test_an_edit_cannot_take_the_id_of_another_submissions_earlier_revision(demo) -> None:
    first()  # uuid:one
    edit()  # uuid:one -> uuid:two; "uuid:one" now names only that earlier revision
    forms.submit(domain="demo", form="household_visit", submission_id="other-1", data=DATA)
    with pytest.raises(forms.SubmissionConflict, match="already taken"):
        edit(submission_id="other-1", new_id="uuid:one")
    assert Submission.objects.get(submission_id="other-1").current_id == "other-1"
