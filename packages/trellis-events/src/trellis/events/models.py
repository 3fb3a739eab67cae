"""The events tables: the outbox (the log), checkpoints, dead letters, processed-event marks."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class OutboxEvent(models.Model):
    """An event written in its publisher's transaction: it exists if and only if that committed.

    ``position`` is assigned after commit, in commit order, by the sequencer
    (:func:`trellis.events.sequence`); checkpoints count positions, never ids, because ids are
    taken at insert time and a later id may commit first.
    """

    id = models.BigAutoField(primary_key=True)
    topic = models.CharField(max_length=100)
    key = models.CharField(max_length=200)
    partition = models.PositiveIntegerField(default=0)
    payload = models.TextField(help_text="The payload as JSON text.")
    published_at = models.DateTimeField(default=timezone.now)
    position = models.BigIntegerField(null=True, blank=True, unique=True)

    class Meta:
        verbose_name = "outbox event"
        indexes = [
            models.Index(
                fields=["id"],
                condition=models.Q(position__isnull=True),
                name="trellis_events_unsequenced",
            ),
            models.Index(fields=["topic", "partition", "position"], name="trellis_events_topic"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk} ({self.key})"


class Checkpoint(models.Model):
    """How far one processor got in one partition: the last position its work committed for.

    Advanced in the same transaction as the handler's work, so it never runs ahead of it.
    """

    processor = models.CharField(max_length=100)
    partition = models.CharField(max_length=120)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["processor", "partition"], name="trellis_events_checkpoint_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.processor} {self.partition} @ {self.position}"


class DeadLetter(models.Model):
    """An event a processor failed ``max_attempts`` times; skipped so later events go on.

    Replay it with ``manage.py events_replay`` (or the admin action) once the cause is fixed.
    """

    processor = models.CharField(max_length=100)
    event_id = models.BigIntegerField()
    topic = models.CharField(max_length=100)
    key = models.CharField(max_length=200)
    payload = models.TextField()
    published_at = models.DateTimeField()
    position = models.BigIntegerField(null=True, blank=True)
    error = models.TextField()
    attempts = models.PositiveIntegerField(default=0)
    first_failed_at = models.DateTimeField(default=timezone.now)
    last_failed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "dead letter"
        constraints = [
            models.UniqueConstraint(
                fields=["processor", "event_id"], name="trellis_events_dead_letter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.processor}: {self.topic} #{self.event_id}"


class ProcessedEvent(models.Model):
    """A mark that ``processor`` applied the effects of event ``event_id`` (see ``once()``)."""

    processor = models.CharField(max_length=100)
    event_id = models.BigIntegerField()
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["processor", "event_id"], name="trellis_events_processed_unique"
            )
        ]
