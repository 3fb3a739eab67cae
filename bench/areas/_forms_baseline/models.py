"""The baseline's tables: the same columns, constraints and indexes as trellis-forms' and
trellis-events' (``OutboxEvent``), so both write the same rows and maintain the same indexes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Domain(models.Model):
    objects: models.Manager[Domain] = models.Manager()
    name = models.CharField(max_length=63, unique=True)


class Membership(models.Model):
    objects: models.Manager[Membership] = models.Manager()
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["domain", "user"], name="base_member")]


class ApiKey(models.Model):
    objects: models.Manager[ApiKey] = models.Manager()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    digest = models.CharField(max_length=64, unique=True)
    revoked = models.BooleanField(default=False)


class FormDefinition(models.Model):
    objects: models.Manager[FormDefinition] = models.Manager()
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE)
    name = models.CharField(max_length=63)
    version = models.PositiveIntegerField(default=1)
    schema = models.JSONField(default=dict)
    case_rules = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["domain", "name", "version"], name="base_definition")
        ]


class Submission(models.Model):
    objects: models.Manager[Submission] = models.Manager()
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT)
    submission_id = models.CharField(max_length=100)
    form = models.ForeignKey(FormDefinition, on_delete=models.PROTECT)
    form_name = models.CharField(max_length=63)
    form_version = models.PositiveIntegerField()
    received_at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, default="")
    data = models.JSONField()
    attachments = models.JSONField(default=list)
    cases = models.JSONField(default=list)
    fingerprint = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["domain", "submission_id"], name="base_submission")
        ]


class Case(models.Model):
    objects: models.Manager[Case] = models.Manager()
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT)
    case_id = models.CharField(max_length=100)
    case_type = models.CharField(max_length=63)
    properties = models.JSONField(default=dict)
    closed = models.BooleanField(default=False)
    opened_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["domain", "case_id"], name="base_case")]
        indexes = [
            models.Index(fields=["domain", "case_type"], name="base_case_type"),
            models.Index(fields=["domain", "modified_at"], name="base_case_modified"),
        ]


class CaseChange(models.Model):
    objects: models.Manager[CaseChange] = models.Manager()
    change_id = models.CharField(max_length=32, unique=True)
    case = models.ForeignKey(Case, on_delete=models.CASCADE)
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT)
    action = models.CharField(max_length=10)
    changed = models.JSONField(default=list)
    properties = models.JSONField(default=dict)
    closed = models.BooleanField(default=False)
    changed_at = models.DateTimeField(default=timezone.now)


class OutboxEvent(models.Model):
    objects: models.Manager[OutboxEvent] = models.Manager()
    topic = models.CharField(max_length=100)
    key = models.CharField(max_length=200)
    partition = models.PositiveIntegerField(default=0)
    payload = models.TextField()
    published_at = models.DateTimeField(default=timezone.now)
    position = models.BigIntegerField(null=True, unique=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(position__isnull=True), name="base_unsequenced"
            ),
            models.Index(fields=["topic", "partition", "position"], name="base_topic"),
        ]
