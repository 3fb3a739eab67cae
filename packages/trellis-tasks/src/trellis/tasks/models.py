"""Tables of the tasks subsystem: durable task records, queue heartbeats, idempotency keys."""

from __future__ import annotations

from django.db import models


class TaskRecord(models.Model):
    """A durable task from enqueue until it finishes, written in the caller's transaction."""

    STATES = [
        ("ready", "ready"),
        ("running", "running"),
        ("successful", "successful"),
        ("failed", "failed"),
    ]

    id = models.CharField(primary_key=True, max_length=32)
    name = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    queue = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=STATES, default="ready")
    attempts = models.PositiveIntegerField(default=0)
    enqueued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["state", "queue", "updated_at"], name="tasks_state_idx")]

    def __str__(self) -> str:
        return f"{self.name} {self.id} ({self.state})"


class QueueHeartbeat(models.Model):
    """When a worker last picked up a task of ``queue`` (any process, any provider)."""

    queue = models.CharField(primary_key=True, max_length=64)
    provider = models.CharField(max_length=64)
    picked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.queue} picked up at {self.picked_at:%Y-%m-%d %H:%M:%S}"


class IdempotencyKey(models.Model):
    """A key claimed by :func:`trellis.tasks.claim` in the transaction that applies an effect."""

    key = models.CharField(primary_key=True, max_length=200)
    claimed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
