"""Changing a stored submission: more attachments for it, or an edit that replaces its data.

Both lock the submission's row (``SELECT ... FOR UPDATE``) for their transaction, so two
changes of one submission take turns, and both are all or nothing like :func:`submit`: the
attachment content written by a change that fails is discarded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from trellis import events

from ._cases import apply_rules
from ._definitions import parse_rules, validate_data
from ._errors import (
    DomainNotFound,
    FieldError,
    SubmissionConflict,
    SubmissionNotFound,
    ValidationFailed,
)
from ._ids import is_valid
from ._payloads import case_change_payload, submission_payload, submission_result
from ._receiving import (
    Attachment,
    SubmissionResult,
    _check_json,
    _definition,
    _envelope_errors,
    _prepare,
    _Prepared,
    check_member,
    discard,
    fingerprint,
    put_attachments,
)

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    from .models import Domain, Submission


def _domain(domain: str | Domain, user: AbstractBaseUser | AnonymousUser | None) -> Domain:
    from .models import Domain

    if isinstance(domain, Domain):
        return domain
    if not is_valid("domain", domain):
        raise DomainNotFound(f"no domain {domain!r:.80}", field="domain")
    found = Domain.objects.filter(name=domain).first()
    if found is None:
        raise DomainNotFound(f"no domain {domain!r}", field="domain")
    check_member(user, domain)
    return found


def _locked(domain: Domain, current_id: str) -> Submission:
    """The submission whose current revision is ``current_id``, locked; a clear error if an
    edit replaced that revision or there is none."""
    from .models import Submission, SubmissionRevision

    row = (
        Submission.objects.select_for_update()
        .select_related("domain")
        .filter(domain=domain, current_id=current_id)
        .first()
    )
    if row is not None:
        return row
    replaced = (
        SubmissionRevision.objects.filter(domain=domain, revision_id=current_id)
        .select_related("submission")
        .first()
    )
    if replaced is not None:
        raise SubmissionConflict(
            f"submission revision {current_id!r} was already replaced by revision "
            f"{replaced.submission.current_id!r}; edit the current revision",
            field="id",
        )
    raise SubmissionNotFound(f"no submission {current_id!r} in domain {domain.name!r}", field="id")


def _resent_edit(
    domain: Domain, replaced_id: str, new_id: str, form: str, data: Any
) -> SubmissionResult | None:
    """The answer to a resend of an edit already made (same ids, form and data), else None."""
    from .models import Submission

    row = (
        Submission.objects.select_related("domain")
        .filter(domain=domain, current_id=new_id, revisions__revision_id=replaced_id)
        .first()
    )
    if row is None:
        return None
    if row.form_name != form or row.data != data:
        raise SubmissionConflict(
            f"submission revision {new_id!r} already replaced {replaced_id!r} with other "
            "content; submission ids are never reused",
            field="id",
        )
    return SubmissionResult(created=False, **submission_result(row))


def _sent_version(row: Submission) -> int | None:
    """The version the stored fingerprint was computed with: ``None`` (the latest was
    asked for) or the form version; a resend must match whichever the sender used."""
    latest = fingerprint(
        form=row.form_name,
        version=None,
        submission_id=row.current_id,
        data=row.data,
        hashes=_hashes(row.attachments),
    )
    return None if latest == row.fingerprint else row.form_version


def _taken(domain: Domain, submission_id: str) -> bool:
    """Whether ``submission_id`` names a submission, a current revision or an earlier one (the
    unique constraints catch the first two under a race; this also sees the third)."""
    from django.db.models import Q

    from .models import Submission

    return (
        Submission.objects.filter(
            Q(submission_id=submission_id)
            | Q(current_id=submission_id)
            | Q(revisions__revision_id=submission_id),
            domain=domain,
        )
        .values("pk")
        .exists()
    )


def _hashes(stored: Sequence[dict[str, Any]]) -> list[list[str]]:
    return [[item["name"], item["sha256"]] for item in stored]


def attach(
    *,
    domain: str | Domain,
    submission_id: str,
    attachments: Sequence[Attachment],
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> SubmissionResult:
    """Add attachments to the stored submission whose current id is ``submission_id``.

    A file already there under the same name with the same content is skipped; under the
    same name with other content it is a conflict (attachments are never overwritten). No
    event is published: the submission's data did not change.

    :return: the submission's result (``created`` is ``False``) with every attachment.
    :raises SubmissionNotFound: 404, no such submission.
    :raises SubmissionConflict: 409, a name already holds other content, or the id is a
        revision an edit replaced.
    """
    prepared = _prepare(attachments)
    found = _domain(domain, user)
    keys: list[str] = []
    try:
        with transaction.atomic():
            row = _locked(found, submission_id)
            have = {item["name"]: item for item in row.attachments}
            new: list[_Prepared] = []
            for item in prepared:
                earlier = have.get(item.attachment.name)
                if earlier is None:
                    new.append(item)
                elif earlier["sha256"] != item.sha256:
                    raise SubmissionConflict(
                        f"submission {submission_id!r} already has an attachment "
                        f"{item.attachment.name!r} with other content; attachments are never "
                        "replaced (send a new submission, or an edit)",
                        field=f"/attachments/{item.attachment.name}",
                    )
            if new:
                sent = _sent_version(row)
                stored = [*row.attachments, *put_attachments(found, row.submission_id, new, keys)]
                row.attachments = stored
                row.fingerprint = fingerprint(
                    form=row.form_name,
                    version=sent,
                    submission_id=row.current_id,
                    data=row.data,
                    hashes=_hashes(stored),
                )
                row.save(update_fields=["attachments", "fingerprint"])
    except BaseException:
        discard(keys, submission_id)
        raise
    return SubmissionResult(created=False, **submission_result(row))


def revise(
    *,
    domain: str | Domain,
    submission_id: str,
    new_id: str,
    form: str,
    data: Any,
    version: int | None = None,
    attachments: Sequence[Attachment] = (),
    keep: Sequence[str] = (),
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> SubmissionResult:
    """Edit a stored submission: its current revision ``submission_id`` becomes ``new_id``
    with ``data`` (an OpenRosa ``deprecatedID`` edit).

    The replaced revision is kept as a :class:`~trellis.forms.models.SubmissionRevision`
    (history); the submission keeps its first id, its ``received_at`` and its place in
    reports, and its ``revision`` goes up by one. Its attachments become the new
    ``attachments`` plus those of the replaced revision named in ``keep`` (a new file of the
    same name wins). The form's case rules apply again to the new data (``create`` acting as
    ``upsert``: the cases exist since the first revision), recorded as changes by this
    submission. ``form.submitted`` is published again with the new ``revision`` (same key),
    then ``case.changed`` for each change. A resend of the same edit answers like a resend.

    :raises SubmissionNotFound: 404, no submission with current id ``submission_id``.
    :raises SubmissionConflict: 409, ``submission_id`` was already replaced, ``new_id`` is
        taken, or the form differs from the submission's.
    :raises ValidationFailed: 422, as :func:`submit`.
    """
    errors = _envelope_errors(form, new_id, version, data)
    if errors:
        raise ValidationFailed("the edit is invalid", errors)
    _check_json(data, [], 0)
    prepared = _prepare(attachments)
    found = _domain(domain, user)
    definition = _definition(found, form, version)
    errors = validate_data(definition.schema, data)
    if errors:
        raise ValidationFailed(
            f"the data does not match form {form!r} version {definition.version}", errors
        )
    keys: list[str] = []
    try:
        with transaction.atomic():
            again = _resent_edit(found, submission_id, new_id, form, data)
            if again is not None:
                return again
            row = _locked(found, submission_id)
            if _taken(found, new_id):
                raise SubmissionConflict(
                    f"submission id {new_id!r} is already taken; submission ids are never reused",
                    field="id",
                )
            if row.form_name != form:
                raise SubmissionConflict(
                    f"submission {submission_id!r} is a {row.form_name!r} submission; an edit "
                    f"cannot make it a {form!r} one",
                    field="form",
                )
            new_names = {p.attachment.name for p in prepared}
            carried = [
                item
                for item in row.attachments
                if item["name"] in set(keep) and item["name"] not in new_names
            ]
            stored = carried + put_attachments(found, row.submission_id, prepared, keys)
            fp = fingerprint(
                form=form,
                version=version,
                submission_id=new_id,
                data=data,
                hashes=_hashes(stored),
            )
            with transaction.atomic():  # a savepoint: new_id taken rolls back only this
                try:
                    _replace(row, new_id, definition, data, stored, fp, user)
                except IntegrityError:
                    raise SubmissionConflict(
                        f"submission id {new_id!r} is already taken; submission ids are "
                        "never reused",
                        field="id",
                    ) from None
    except BaseException:
        discard(keys, submission_id)
        raise
    return SubmissionResult(created=True, **submission_result(row))


def _replace(
    row: Submission,
    new_id: str,
    definition: Any,
    data: Any,
    stored: list[dict[str, Any]],
    fp: str,
    user: AbstractBaseUser | AnonymousUser | None,
) -> None:
    from .models import SubmissionRevision

    now = timezone.now()
    SubmissionRevision.objects.create(
        submission=row,
        domain=row.domain,
        revision=row.revision,
        revision_id=row.current_id,
        form_version=row.form_version,
        received_at=row.received_at,
        username=row.username,
        data=row.data,
        attachments=row.attachments,
        cases=row.cases,
        fingerprint=row.fingerprint,
        replaced_at=now,
    )
    row.current_id = new_id
    row.revision += 1
    row.form = definition
    row.form_version = definition.version
    row.data = data
    row.attachments = stored
    row.fingerprint = fp
    if user is not None:
        row.username = user.get_username()

    def save(cases: list[dict[str, str]]) -> Submission:
        row.cases = cases
        row.save()
        return row

    rules = [
        replace(rule, action="upsert") if rule.action == "create" else rule
        for rule in parse_rules(definition.case_rules)
    ]
    changes = apply_rules(domain=row.domain, submission=save, rules=rules, data=data, now=now)
    events.publish(
        topic="form.submitted",
        key=f"{row.domain.name}:{row.submission_id}",
        payload=submission_payload(row),
    )
    for change in changes:
        events.publish(
            topic="case.changed",
            key=f"{row.domain.name}:{change.case.case_id}",
            payload=case_change_payload(change),
        )


__all__ = ["FieldError", "attach", "revise"]
