"""Receiving a submission: validate everything, then store it all in one transaction.

Order: identifiers and limits, attachments hashed, membership, domain, an existing submission
of the same id (identical → its original answer, different → conflict), the form, the data
against its schema. Only then one transaction writes the attachments
(:func:`trellis.blobs.put`), the cases, the submission row (with its attachment and case
lists), the cases' history and the events. If anything in it fails, the
transaction rolls back and the attachment content already written is discarded
(:func:`trellis.blobs.discard`), so nothing of a failed submission remains anywhere.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from trellis import blobs, events

from . import _settings
from ._cases import apply_rules
from ._definitions import parse_rules, validate_data
from ._errors import (
    DomainNotFound,
    FieldError,
    FormNotFound,
    MalformedRequest,
    NotAMember,
    SubmissionConflict,
    TooLarge,
    ValidationFailed,
)
from ._ids import is_valid
from ._payloads import case_change_payload, submission_payload, submission_result

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    from .models import Domain, FormDefinition, Submission

log = logging.getLogger("trellis.forms")

ATTACHMENT_TYPE_CODE = 1
"""``type_code`` of submission attachments in trellis-blobs."""
MAX_DEPTH = 32
"""Deepest nesting of submitted data (the events outbox accepts 64 levels)."""
ATTEMPTS = 3
"""Tries of the write transaction when a concurrent submission created a case it creates."""
_CONTENT_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+( *;[ -~]*)?")
_CHUNK = 1 << 20
MAX_CONTENT_TYPE = 255
"""The longest attachment content type trellis-blobs stores."""


@dataclass(frozen=True)
class Attachment:
    """A file sent with a submission.

    :param name: ``[A-Za-z0-9][A-Za-z0-9._-]{0,99}`` (no path characters); unique per submission.
    :param content: the bytes, or a seekable binary stream (read twice: hashed, then stored).
    :param content_type: its media type.
    """

    name: str
    content: bytes | IO[bytes]
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class SubmissionResult:
    """What :func:`submit` did: ``created`` is ``False`` for an identical resend.

    ``as_dict()`` is the receiver's JSON answer (201 when created, else 200).
    """

    created: bool
    id: str
    form: str
    form_version: int
    received_at: str
    cases: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int:
        return 201 if self.created else 200

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "form": self.form,
            "form_version": self.form_version,
            "received_at": self.received_at,
            "cases": self.cases,
            "attachments": self.attachments,
        }


@dataclass
class _Prepared:
    attachment: Attachment
    stream: IO[bytes]
    length: int
    sha256: str


def _check_json(value: Any, path: list[str], depth: int) -> None:
    """Refuse what databases or the outbox cannot store: NUL, lone surrogates, deep nesting."""
    where = "/data" + "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in path)
    if depth > MAX_DEPTH:
        raise MalformedRequest(f"{where} is nested deeper than {MAX_DEPTH} levels", field=where)
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MalformedRequest(
                    f"{where} has a key that is not a string: {key!r:.40}", field=where
                )
            _check_text(key, where)
            _check_json(item, [*path, key], depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(item, [*path, str(index)], depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise MalformedRequest(f"{where} is not a finite number", field=where)
    elif value is not None and not isinstance(value, int | float):
        raise MalformedRequest(
            f"{where} is not a JSON value (a {type(value).__name__})", field=where
        )


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise MalformedRequest(f"{where} contains a NUL character (\\u0000)", field=where)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedRequest(
            f"{where} contains a lone surrogate, which is not UTF-8 text", field=where
        ) from None


def _prepare(attachments: Sequence[Attachment]) -> list[_Prepared]:
    limit, count = _settings.max_attachment(), _settings.max_attachments()
    if len(attachments) > count:
        raise TooLarge(
            f"{len(attachments)} attachments sent; the limit is {count} per submission "
            "(TRELLIS_FORMS_MAX_ATTACHMENTS)",
            field="attachments",
        )
    errors: list[FieldError] = []
    seen: set[str] = set()
    for item in attachments:
        where = f"/attachments/{item.name}"
        if not is_valid("attachment", item.name):
            errors.append(
                FieldError(
                    "/attachments",
                    "name",
                    f"attachment name {item.name!r:.110} is invalid: use a letter or digit, then "
                    "up to 99 of A-Z, a-z, 0-9 and '._-' (no path characters)",
                )
            )
        elif item.name in seen:
            errors.append(FieldError(where, "unique", f"attachment {item.name!r} is sent twice"))
        seen.add(item.name)
        if not isinstance(item.content_type, str) or not _CONTENT_TYPE.fullmatch(item.content_type):
            errors.append(
                FieldError(
                    where,
                    "content_type",
                    f"content type {item.content_type!r:.110} is not a media type such as "
                    "'image/jpeg'",
                )
            )
        elif len(item.content_type) > MAX_CONTENT_TYPE:
            errors.append(
                FieldError(
                    where,
                    "content_type",
                    f"content type {item.content_type!r:.60}... is over {MAX_CONTENT_TYPE} "
                    "characters",
                )
            )
    if errors:
        raise ValidationFailed("the attachments are invalid", errors)
    prepared = []
    for item in attachments:
        stream = io.BytesIO(item.content) if isinstance(item.content, bytes) else item.content
        digest, length = hashlib.sha256(), 0
        stream.seek(0)
        while chunk := stream.read(_CHUNK):
            length += len(chunk)
            if length > limit:
                raise TooLarge(
                    f"attachment {item.name!r} is over the limit of {limit} bytes "
                    "(TRELLIS_FORMS_MAX_ATTACHMENT)",
                    field=f"/attachments/{item.name}",
                )
            digest.update(chunk)
        stream.seek(0)
        prepared.append(_Prepared(item, stream, length, digest.hexdigest()))
    return prepared


def fingerprint(
    *, form: str, version: int | None, submission_id: str, data: Any, hashes: list[list[str]]
) -> str:
    """sha256 of the canonical submission: sorted keys, no spaces, attachments by name."""
    canonical = json.dumps(
        {
            "form": form,
            "version": version,
            "id": submission_id,
            "data": data,
            "attachments": sorted(hashes),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    # surrogatepass: data with a lone surrogate is refused later, but must not break this.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


MAX_VERSION = 2**31 - 1
"""The highest form version (a 32-bit integer column)."""


def version_errors(version: Any) -> list[FieldError]:
    """What is wrong with a form version: not an integer, below 1, above :data:`MAX_VERSION`."""
    if not isinstance(version, int) or isinstance(version, bool):
        return [FieldError("/version", "type", f"version must be an integer; got {version!r:.40}")]
    if version < 1:
        return [FieldError("/version", "minimum", f"version must be >= 1; got {version}")]
    if version > MAX_VERSION:
        return [
            FieldError(
                "/version", "maximum", f"version must be <= {MAX_VERSION}; got {str(version)[:40]}"
            )
        ]
    return []


def _envelope_errors(form: Any, submission_id: Any, version: Any, data: Any) -> list[FieldError]:
    errors = []
    if not is_valid("form", form):
        errors.append(
            FieldError(
                "/form",
                "pattern",
                f"form name {form!r:.110} is invalid: a lower-case letter, then up to 62 of "
                "a-z, 0-9 and '_'",
            )
        )
    if not is_valid("submission_id", submission_id):
        errors.append(
            FieldError(
                "/id",
                "pattern",
                f"submission id {submission_id!r:.110} is invalid: a letter or digit, then up to "
                "99 of A-Z, a-z, 0-9 and '._:-' (a uuid is a good id)",
            )
        )
    if version is not None:
        errors += version_errors(version)
    if not isinstance(data, dict):
        errors.append(
            FieldError("/data", "type", f"data must be a JSON object; got {type(data).__name__}")
        )
    return errors


def check_member(user: AbstractBaseUser | AnonymousUser | None, domain: str) -> None:
    """Refuse a user who is not an active member of ``domain`` (active staff always pass)."""
    from .selectors import is_member

    if user is not None and not is_member(user, domain):
        raise NotAMember(
            f"user {user.get_username()!r} is not a member of domain {domain!r}; ask a "
            "domain administrator to add you",
            field="domain",
        )


def _existing(domain: Domain, submission_id: str, fp: str) -> SubmissionResult | None:
    """The answer to a resend of ``submission_id`` (``None`` when the id is new).

    One statement finds the submission whose id, current revision id (after edits) or an
    earlier revision's id it is; a different body under any of them is a conflict.
    """
    from django.db.models import Q

    from .models import Submission, SubmissionRevision

    found = (
        Submission.objects.select_related("domain")
        .filter(
            Q(current_id=submission_id)
            | Q(submission_id=submission_id)
            | Q(revisions__revision_id=submission_id),
            domain=domain,
        )
        .distinct()
    )
    for row in found:
        if row.current_id == submission_id:
            same = row.fingerprint == fp
        else:  # an earlier revision's id: compare with what was sent under it
            earlier = SubmissionRevision.objects.filter(
                submission=row, revision_id=submission_id
            ).first()
            same = earlier is not None and earlier.fingerprint == fp
        if not same:
            raise SubmissionConflict(
                f"submission {submission_id!r} was already received with a different body "
                f"(at {submission_result(row)['received_at']}); submission ids are never reused: "
                "send new content under a new id",
                field="id",
            )
        return SubmissionResult(created=False, **submission_result(row))
    return None


def _definition(domain: Domain, form: str, version: int | None) -> FormDefinition:
    from .models import FormDefinition

    found = FormDefinition.objects.filter(domain=domain, name=form)
    definition = (
        found.filter(version=version).first()
        if version is not None
        else found.order_by("-version").first()
    )
    if definition is None:
        versions = sorted(found.values_list("version", flat=True))
        detail = (
            f"version {version} of form {form!r} does not exist (versions: {versions})"
            if versions
            else f"domain {domain.name!r} has no form {form!r}"
        )
        raise FormNotFound(detail, field="version" if versions else "form")
    return definition


def submit(
    *,
    domain: str | Domain,
    form: str,
    submission_id: str,
    data: Any,
    version: int | None = None,
    attachments: Sequence[Attachment] = (),
    user: AbstractBaseUser | AnonymousUser | None = None,
    definition: FormDefinition | None = None,
) -> SubmissionResult:
    """Receive a submission: all of it is stored, with its case changes and events, or nothing.

    :param domain: the domain's name; or its :class:`~trellis.forms.models.Domain`, when the
        caller already found it and checked that ``user`` is a member (not looked up again).
    :param version: the form version; ``None`` for the latest.
    :param user: who submits (checked to be a member; ``None`` for trusted code).
    :param definition: form ``form`` version ``version`` of the domain, when the caller
        already looked it up (it is not looked up again; it must be that definition).
    :return: the result; ``created`` is ``False`` when the same id with the same body and
        attachments was received before (its original result is returned, nothing written).
    :raises ValidationFailed: 422, with every error (``/data/...`` against the schema,
        ``/data/<case id pointer>`` for case rules that cannot apply, ``/id``, ``/form``...).
    :raises MalformedRequest: 400, data that no database stores (NUL, too deep).
    :raises TooLarge: 413, an attachment or their number over the limit.
    :raises DomainNotFound, FormNotFound: 404.
    :raises NotAMember: 403.
    :raises SubmissionConflict: 409, the id was used for a different submission.
    """
    return receive(
        domain=domain,
        form=form,
        submission_id=submission_id,
        data=data,
        version=version,
        attachments=attachments,
        user=user,
        definition=definition,
    )


def receive(
    *,
    domain: str | Domain,
    form: str,
    submission_id: str,
    data: Any,
    version: int | None = None,
    attachments: Sequence[Attachment] = (),
    user: AbstractBaseUser | AnonymousUser | None = None,
    definition: FormDefinition | None = None,
) -> SubmissionResult:
    """:func:`submit`, for a caller that already found the domain and checked that ``user``
    is a member of it (the receiver view does before reading the body): given a
    :class:`~trellis.forms.models.Domain`, neither is looked up again."""
    from .models import Domain

    sent: Any = version  # from JSON: may be anything
    if isinstance(sent, float) and sent.is_integer():
        version = int(sent)  # JSON has one number type: 2.0 is the integer 2
    errors = _envelope_errors(form, submission_id, version, data)
    if errors:
        raise ValidationFailed("the submission is invalid", errors)
    _check_json(data, [], 0)  # before anything serializes it (the fingerprint, the database)
    prepared = _prepare(attachments)
    if isinstance(domain, Domain):
        found = domain  # found, and the user checked, by the caller
    else:
        if not is_valid("domain", domain):
            raise DomainNotFound(f"no domain {domain!r:.80}", field="domain")
        lookup = Domain.objects.filter(name=domain).first()
        if lookup is None:
            raise DomainNotFound(f"no domain {domain!r}", field="domain")
        found = lookup
        check_member(user, domain)
    hashes = [[p.attachment.name, p.sha256] for p in prepared]
    fp = fingerprint(
        form=form, version=version, submission_id=submission_id, data=data, hashes=hashes
    )
    previous = _existing(found, submission_id, fp)
    if previous is not None:
        return previous
    if definition is None:
        definition = _definition(found, form, version)
    elif (definition.domain_id, definition.name) != (found.pk, form) or (
        version is not None and definition.version != version
    ):
        raise ValueError(f"definition {definition} is not form {form!r} version {version}")
    errors = validate_data(definition.schema, data)
    if errors:
        raise ValidationFailed(
            f"the data does not match form {form!r} version {definition.version}", errors
        )
    for attempt in range(1, ATTEMPTS + 1):
        try:
            row = _store(found, definition, submission_id, data, prepared, user, fp)
        except IntegrityError:
            # Another submission of this id committed first (answer as a resend), or one
            # created a case this one creates (try again: the case exists now).
            previous = _existing(found, submission_id, fp)
            if previous is not None:
                return previous
            if attempt == ATTEMPTS:
                raise
            for item in prepared:
                item.stream.seek(0)
            continue
        return SubmissionResult(created=True, **submission_result(row))
    raise AssertionError("unreachable")  # pragma: no cover


def _store(
    domain: Domain,
    definition: FormDefinition,
    submission_id: str,
    data: Any,
    prepared: list[_Prepared],
    user: AbstractBaseUser | AnonymousUser | None,
    fp: str,
) -> Submission:
    from .models import Submission

    now = timezone.now()
    keys: list[str] = []
    try:
        with transaction.atomic():
            stored = put_attachments(domain, submission_id, prepared, keys)

            inserted: list[Submission] = []

            def insert(cases: list[dict[str, str]]) -> Submission:
                inserted.append(
                    Submission.objects.create(
                        domain=domain,
                        submission_id=submission_id,
                        form=definition,
                        form_name=definition.name,
                        form_version=definition.version,
                        received_at=now,
                        user=cast(Any, user)
                        if user is not None and user.is_authenticated
                        else None,
                        username=user.get_username() if user is not None else "",
                        data=data,
                        attachments=stored,
                        cases=cases,
                        fingerprint=fp,
                        current_id=submission_id,
                    )
                )
                return inserted[-1]

            # The case changes first, then the submission row (with its case list), then
            # their history rows: one INSERT of the submission and no UPDATE of it.
            changes = apply_rules(
                domain=domain,
                submission=insert,
                rules=parse_rules(definition.case_rules),
                data=data,
                now=now,
            )
            [row] = inserted  # apply_rules inserts it exactly once, rules or none
            events.publish(
                topic="form.submitted",
                key=f"{domain.name}:{submission_id}",
                payload=submission_payload(row),
            )
            for change in changes:
                events.publish(
                    topic="case.changed",
                    key=f"{domain.name}:{change.case.case_id}",
                    payload=case_change_payload(change),
                )
    except BaseException:
        discard(keys, submission_id)
        raise
    return row


def put_attachments(
    domain: Domain, submission_id: str, prepared: list[_Prepared], keys: list[str]
) -> list[dict[str, Any]]:
    """Write ``prepared`` to trellis-blobs (inside the caller's transaction); their entries
    for the submission's ``attachments``. Each key is appended to ``keys`` *before* its put,
    so whatever fails from there on, :func:`discard` finds the content to remove."""
    stored = []
    for item in prepared:
        keys.append(blobs.new_key())
        info = blobs.put(
            item.stream,
            key=keys[-1],
            domain=domain.name,
            parent_id=submission_id,
            type_code=ATTACHMENT_TYPE_CODE,
            name=item.attachment.name,
            content_type=item.attachment.content_type,
            length=item.length,
        )
        stored.append(
            {
                "name": info.name,
                "key": info.key,
                "content_type": info.content_type,
                "length": info.length,
                "sha256": info.sha256,
            }
        )
    return stored


def discard(keys: list[str], submission_id: str) -> None:
    """Remove the content of a failed submission's attachments (logged if that fails too)."""
    if not keys:
        return
    try:
        blobs.discard(keys)
    except Exception:
        log.exception(
            "could not discard the attachments %s of failed submission %r; "
            "`manage.py blobs_reap` removes them",
            keys,
            submission_id,
        )
