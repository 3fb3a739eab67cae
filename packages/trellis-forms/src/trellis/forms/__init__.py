"""trellis-forms: project spaces, form definitions, a submission receiver, cases with history.

    from trellis import forms

    forms.domain_create(name="demo")
    forms.form_define(domain="demo", name="visit", version=1, schema={...}, case_rules=[...])
    result = forms.submit(domain="demo", form="visit", submission_id="uuid:1", data={...})

A submission is stored whole or not at all: its row, its attachments (in trellis-blobs), the
case changes its form's case rules make, and the events ``form.submitted`` and
``case.changed`` (trellis-events' outbox) commit in one transaction. HTTP: ``POST
/a/<domain>/receiver/`` and the JSON API under ``/a/<domain>/api/`` (shared-docs/forms.md).
"""

from __future__ import annotations

from ._errors import (
    CaseNotFound,
    DomainNotFound,
    FieldError,
    FormNotFound,
    FormsError,
    InvalidDefinition,
    InvalidIdentifier,
    LengthRequired,
    MalformedRequest,
    NotAMember,
    SubmissionConflict,
    SubmissionNotFound,
    TooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from ._http import Parts, load_multipart
from ._ids import is_valid
from ._payloads import case_change_payload, submission_payload
from ._receiving import ATTACHMENT_TYPE_CODE, Attachment, SubmissionResult
from ._revising import attach, revise
from ._settings import max_attachments
from ._version import __version__
from .selectors import domain_exists
from .services import (
    CreatedApiKey,
    DefinitionExists,
    api_key_create,
    api_key_revoke,
    domain_create,
    form_define,
    member_add,
    member_remove,
    submit,
)

__all__ = [
    "ATTACHMENT_TYPE_CODE",
    "Attachment",
    "CaseNotFound",
    "CreatedApiKey",
    "DefinitionExists",
    "DomainNotFound",
    "FieldError",
    "FormNotFound",
    "FormsError",
    "InvalidDefinition",
    "InvalidIdentifier",
    "LengthRequired",
    "MalformedRequest",
    "NotAMember",
    "Parts",
    "SubmissionConflict",
    "SubmissionNotFound",
    "SubmissionResult",
    "TooLarge",
    "UnsupportedMediaType",
    "ValidationFailed",
    "__version__",
    "api_key_create",
    "api_key_revoke",
    "attach",
    "case_change_payload",
    "domain_create",
    "domain_exists",
    "form_define",
    "is_valid",
    "load_multipart",
    "max_attachments",
    "member_add",
    "member_remove",
    "revise",
    "submission_payload",
    "submit",
]
