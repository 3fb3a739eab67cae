"""Domains, members, API keys, form definitions, submissions, cases and their history.

Write them through :mod:`trellis.forms` (``domain_create``, ``submit``...): the facade keeps
submissions, attachments, cases and events in one transaction.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class Domain(models.Model):
    """A project space: its members submit its forms and read its cases."""

    name = models.CharField(max_length=63, unique=True)
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from ._ids import is_valid

        if not is_valid("domain", self.name):
            raise ValidationError(
                {"name": "use 1 to 63 of a-z, 0-9 and '-', not starting or ending with '-'"}
            )


class Membership(models.Model):
    """``user`` may submit forms to ``domain`` and read its cases and attachments."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trellis_memberships"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["domain", "user"], name="trellis_forms_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.domain}"


class ApiKey(models.Model):
    """A key for ``Authorization: ApiKey <username>:<key>``; only its sha256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trellis_api_keys"
    )
    name = models.CharField(max_length=100, help_text="What the key is for (a device, a script).")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    revoked = models.BooleanField(default=False)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"


class FormDefinition(models.Model):
    """One version of a form: a JSON Schema for its data and the case rules it applies."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="forms")
    name = models.CharField(max_length=63)
    version = models.PositiveIntegerField(default=1)
    title = models.CharField(max_length=200, blank=True)
    schema: models.JSONField[Any] = models.JSONField(default=dict)
    case_rules: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "form definition"
        ordering = ["domain__name", "name", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "name", "version"], name="trellis_forms_definition_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def clean(self) -> None:
        """The same validation as :func:`trellis.forms.form_define` (admin saves use it)."""
        from ._definitions import validate_definition
        from ._errors import InvalidDefinition, InvalidIdentifier
        from ._ids import check

        try:
            check("form", self.name)
            validate_definition(schema=self.schema, case_rules=self.case_rules)
        except InvalidIdentifier as exc:
            raise ValidationError({"name": exc.message}) from None
        except InvalidDefinition as exc:
            by_field: dict[str, list[str]] = {}
            for error in exc.errors:
                target = "case_rules" if error.field.startswith("/case_rules") else "schema"
                by_field.setdefault(target, []).append(f"{error.field}: {error.message}")
            raise ValidationError(by_field) from None


class Submission(models.Model):
    """A received form submission: its data, attachments and the cases it changed.

    Unique per domain and client id: a resend finds it and gets the same answer.
    """

    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="submissions")
    submission_id = models.CharField(max_length=100)
    form = models.ForeignKey(FormDefinition, on_delete=models.PROTECT, related_name="submissions")
    form_name = models.CharField(max_length=63)
    form_version = models.PositiveIntegerField()
    received_at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    username = models.CharField(max_length=150, blank=True, default="")
    data: models.JSONField[Any] = models.JSONField()
    attachments: models.JSONField[Any] = models.JSONField(default=list)
    cases: models.JSONField[Any] = models.JSONField(default=list)
    fingerprint = models.CharField(
        max_length=64, help_text="sha256 of the canonical body and attachments: resends match it"
    )
    revision = models.PositiveIntegerField(
        default=1, help_text="1 as received; each edit (trellis.forms.revise) adds one"
    )
    current_id = models.CharField(
        max_length=100,
        default="",
        help_text="the current revision's id: the submission id until an edit gives one",
    )

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "submission_id"], name="trellis_forms_submission_unique"
            ),
            models.UniqueConstraint(
                fields=["domain", "current_id"], name="trellis_forms_submission_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.form_name} {self.submission_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.current_id:
            self.current_id = self.submission_id
        super().save(*args, **kwargs)


class SubmissionRevision(models.Model):
    """A revision of a submission that an edit replaced: what it was, kept as history."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="revisions")
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="+")
    revision = models.PositiveIntegerField()
    revision_id = models.CharField(max_length=100, help_text="the id this revision was sent under")
    form_version = models.PositiveIntegerField()
    received_at = models.DateTimeField()
    username = models.CharField(max_length=150, blank=True, default="")
    data: models.JSONField[Any] = models.JSONField()
    attachments: models.JSONField[Any] = models.JSONField(default=list)
    cases: models.JSONField[Any] = models.JSONField(default=list)
    fingerprint = models.CharField(max_length=64)
    replaced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["submission", "revision"]
        verbose_name = "submission revision"
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "revision"], name="trellis_forms_revision_unique"
            ),
            models.UniqueConstraint(
                fields=["domain", "revision_id"], name="trellis_forms_revision_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.submission} revision {self.revision}"


class Case(models.Model):
    """Something followed over time (a household, a patient), changed by submissions."""

    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="cases")
    case_id = models.CharField(max_length=100)
    case_type = models.CharField(max_length=63)
    properties: models.JSONField[Any] = models.JSONField(default=dict)
    closed = models.BooleanField(default=False)
    opened_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "case_id"], name="trellis_forms_case_unique")
        ]
        indexes = [
            models.Index(fields=["domain", "case_type"], name="trellis_forms_case_type"),
            models.Index(fields=["domain", "modified_at"], name="trellis_forms_case_modified"),
        ]

    def __str__(self) -> str:
        return f"{self.case_type} {self.case_id}"


class CaseChange(models.Model):
    """One change of a case by one submission: what it did, and the case right after it."""

    change_id = models.CharField(max_length=32, unique=True)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="changes")
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="changes")
    action = models.CharField(max_length=10)
    changed: models.JSONField[Any] = models.JSONField(default=list, help_text="names changed")
    properties: models.JSONField[Any] = models.JSONField(default=dict)
    closed = models.BooleanField(default=False)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = "case change"

    def __str__(self) -> str:
        return f"{self.action} {self.case_id} by {self.submission_id}"
