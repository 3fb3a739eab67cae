"""All or nothing: a failure anywhere after validation leaves no row, no case change, no
event and no attachment content (the filesystem provider's storage is listed)."""

from __future__ import annotations

from typing import Any

import pytest

from trellis import events, forms
from trellis.forms import _receiving
from trellis.forms.models import Case, Submission

from .conftest import nothing_written

pytestmark = pytest.mark.django_db

DATA = {"household_id": "hh-1", "village": "Kobo", "household_size": 4}
ATTACHMENTS = [forms.Attachment("photo", b"jpeg bytes", "image/jpeg"), forms.Attachment("a2", b"x")]


class Injected(Exception):
    pass


def send(**overrides: Any) -> forms.SubmissionResult:
    kwargs: dict[str, Any] = {
        "domain": "demo",
        "form": "household_visit",
        "submission_id": "s-1",
        "data": DATA,
        "attachments": ATTACHMENTS,
    }
    kwargs.update(overrides)
    return forms.submit(**kwargs)


def fail_after(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, seen: list[str]) -> None:
    original = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        assert Case.objects.exists() and Submission.objects.exists()  # written, then it fails
        seen.append(name)
        raise Injected(f"after {name}")

    monkeypatch.setattr(target, name, wrapper)


def test_failure_after_the_blobs_were_written(demo, monkeypatch, stored_files) -> None:
    written: list[str] = []
    original = _receiving.blobs.put

    def put(*args: Any, **kwargs: Any) -> Any:
        info = original(*args, **kwargs)
        written.append(info.key)
        if len(written) == 2:
            assert len(stored_files()) == 2  # really written before the failure
            raise Injected("after the second attachment was stored")
        return info

    monkeypatch.setattr(_receiving.blobs, "put", put)
    with pytest.raises(Injected):
        send()
    assert len(written) == 2
    assert nothing_written(stored_files) == []


def test_failure_during_the_case_update(demo, monkeypatch, stored_files) -> None:
    from trellis.forms.models import CaseChange

    seen: list[str] = []
    fail_after(monkeypatch, CaseChange.objects, "create", seen)
    with pytest.raises(Injected):
        send()
    assert seen == ["create"]
    assert nothing_written(stored_files) == []


def test_failure_during_publish(demo, monkeypatch, stored_files) -> None:
    seen: list[str] = []
    original = events.publish

    def publish(*, topic: str, key: str, payload: object) -> Any:
        event = original(topic=topic, key=key, payload=payload)
        seen.append(topic)
        if topic == "case.changed":
            raise Injected("the outbox failed")
        return event

    monkeypatch.setattr(events, "publish", publish)
    with pytest.raises(Injected):
        send()
    assert seen == ["form.submitted", "case.changed"]
    assert nothing_written(stored_files) == []


def test_a_case_rule_that_cannot_apply_refuses_the_whole_submission(demo, stored_files) -> None:
    forms.form_define(
        domain="demo",
        name="household_visit",
        version=2,
        schema=demo_schema(),
        case_rules=[{"case_type": "household", "case_id": "/household_id", "action": "update"}],
    )
    with pytest.raises(forms.ValidationFailed) as caught:
        send()
    [error] = caught.value.errors
    assert (error.field, error.rule) == ("/data/household_id", "case_not_found")
    assert "case rule 0 (update household)" in error.message
    assert nothing_written(stored_files) == []


def demo_schema() -> dict[str, Any]:
    from .conftest import SCHEMA

    return SCHEMA


def test_after_a_failure_the_same_submission_goes_through(demo, monkeypatch, stored_files) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(events, "publish", _raise)
        with pytest.raises(Injected):
            send()
    result = send()
    assert result.created
    assert Submission.objects.count() == 1 and Case.objects.count() == 1
    assert len(stored_files()) == 2


def _raise(**kwargs: Any) -> None:
    raise Injected("publish failed")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"domain": "nowhere"}, forms.DomainNotFound),
        ({"form": "missing"}, forms.FormNotFound),
        ({"data": {"household_id": "hh-1"}}, forms.ValidationFailed),
        ({"submission_id": "bad id"}, forms.ValidationFailed),
        ({"attachments": [forms.Attachment("a/b", b"x")]}, forms.ValidationFailed),
    ],
)
def test_facade_errors_write_nothing(demo, stored_files, overrides, error) -> None:
    with pytest.raises(error):
        send(**overrides)
    assert nothing_written(stored_files) == []


def test_conflict_writes_nothing_new(demo, stored_files) -> None:
    send()
    before = sorted(stored_files())
    from trellis.events.models import OutboxEvent

    outbox = OutboxEvent.objects.count()
    with pytest.raises(forms.SubmissionConflict):
        send(data={**DATA, "household_size": 9})
    with pytest.raises(forms.SubmissionConflict):
        send(attachments=ATTACHMENTS[:1])
    assert not send().created
    assert sorted(stored_files()) == before
    assert OutboxEvent.objects.count() == outbox
    assert Case.objects.get().changes.count() == 1


def test_non_member_is_refused(demo, stored_files) -> None:
    with pytest.raises(forms.NotAMember):
        send(user=demo.outsider)
    assert nothing_written(stored_files) == []
