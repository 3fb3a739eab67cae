"""Errors of trellis-forms. Each carries the HTTP status, stable code and field the API shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One broken rule: the JSON pointer at fault (``/data/age``), the rule, a message."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class FormsError(Exception):
    """Base of every error trellis-forms raises on purpose.

    :param message: what was wrong, the value seen and what to do.
    :param field: the request field at fault (a name or a JSON pointer), if one is.
    """

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidIdentifier(FormsError, ValueError):
    """A domain, form name, case type, id or attachment name breaks its pattern."""

    status = 422
    code = "invalid_identifier"


class MalformedRequest(FormsError):
    """The body is not what the receiver reads: bad JSON, a broken multipart body."""

    status = 400
    code = "malformed"


class DomainNotFound(FormsError):
    """No domain of that name."""

    status = 404
    code = "domain_not_found"


class FormNotFound(FormsError):
    """No form definition of that name (or version) in the domain."""

    status = 404
    code = "form_not_found"


class SubmissionNotFound(FormsError):
    """No submission with that (current) id in the domain."""

    status = 404
    code = "submission_not_found"


class CaseNotFound(FormsError):
    """No case with that id in the domain."""

    status = 404
    code = "case_not_found"


class NotAMember(FormsError):
    """The user is not an active member of the domain (and not staff)."""

    status = 403
    code = "not_a_member"


class TooLarge(FormsError):
    """The body, an attachment or the number of attachments is over its limit."""

    status = 413
    code = "too_large"


class LengthRequired(FormsError):
    """A body without ``Content-Length`` (chunked): WSGI gives Django none of it to read."""

    status = 411
    code = "length_required"


class UnsupportedMediaType(FormsError):
    """The receiver reads ``application/json`` and ``multipart/form-data`` only."""

    status = 415
    code = "unsupported_media_type"


class SubmissionConflict(FormsError):
    """A submission with this id exists with a different body: ids are never reused."""

    status = 409
    code = "conflict"


class ValidationFailed(FormsError, ValueError):
    """Input breaks rules; ``errors`` lists each one (field pointer, rule, message).

    Raised for submissions (data against the form's schema, case rules against the cases) and
    for form definitions (schema against the metaschema, case rules against the schema).
    """

    status = 422
    code = "invalid"

    def __init__(self, message: str, errors: Sequence[FieldError]) -> None:
        ordered = sorted(errors, key=lambda e: (e.field, e.rule, e.message))
        super().__init__(message, field=ordered[0].field if ordered else None)
        self.errors = ordered

    def __str__(self) -> str:
        lines = [self.message, *(f"  {e.field}: {e.message} ({e.rule})" for e in self.errors)]
        return "\n".join(lines)


class InvalidDefinition(ValidationFailed):
    """A form definition's schema or case rules are invalid (paths under ``/schema``,
    ``/case_rules``)."""

    code = "invalid_definition"
