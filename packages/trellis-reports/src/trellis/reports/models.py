"""The reports tables: definitions, aggregate rows, distinct values and applied-record marks.

A report's numbers live in :class:`ReportRow` (one per group), kept up to date by the
``reports`` events processor and recomputed by a rebuild. Every writer locks the report's
:class:`Report` row first (``SELECT ... FOR UPDATE``), so the processor and a rebuild never
interleave on one report; :class:`AppliedRecord` (unique per report and record id) makes a
record count once however often it is delivered, and keeps what it contributed so a newer
revision of the record can take that back.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.utils import timezone

from ._errors import DefinitionError

DEFINITION_FIELDS = frozenset({"source_topic", "filters", "group_by", "aggregates", "chart"})


class Report(models.Model):
    """A report definition of one domain (admin-editable; validated on save)."""

    domain = models.CharField(max_length=63)
    slug = models.CharField(max_length=63)
    title = models.CharField(max_length=200)
    source_topic = models.CharField(
        max_length=100, help_text="The events topic whose records count (it needs a Source)."
    )
    filters = models.JSONField(default=list, blank=True)
    group_by = models.JSONField(default=list, blank=True)
    aggregates = models.JSONField(default=list)
    chart = models.JSONField(default=dict, blank=True)
    needs_rebuild = models.BooleanField(
        default=True,
        help_text="The definition is new or changed since the last rebuild.",
    )
    version = models.BigIntegerField(
        default=1, help_text="Bumped on every change of the definition or the numbers."
    )
    records = models.BigIntegerField(default=0, help_text="Records counted so far.")
    groups = models.BigIntegerField(default=0, help_text="Aggregate rows.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(
        null=True, blank=True, help_text="When the processor last added records."
    )

    class Meta:
        ordering = ["domain", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "slug"], name="trellis_reports_slug_unique")
        ]
        indexes = [models.Index(fields=["source_topic", "domain"], name="trellis_reports_topic")]

    def __str__(self) -> str:
        return f"{self.domain}/{self.slug}"

    def definition_data(self) -> dict[str, Any]:
        """The stored definition as the JSON :func:`~trellis.reports.validate_definition` takes."""
        return {
            "source_topic": self.source_topic,
            "filters": self.filters if self.filters is not None else [],
            "group_by": self.group_by if self.group_by is not None else [],
            "aggregates": self.aggregates,
            "chart": self.chart or None,
        }

    def clean(self) -> None:
        """Validate the definition exactly as :func:`~trellis.reports.report_define` does."""
        from ._definitions import check_domain, check_slug, validate_definition

        problems: dict[str, list[str]] = {}
        for check, name in ((check_domain, "domain"), (check_slug, "slug")):
            try:
                check(getattr(self, name))
            except DefinitionError as exc:
                problems.setdefault(name, []).append(str(exc))
        try:
            validate_definition(self.definition_data())
        except DefinitionError as exc:
            for problem in exc.problems:
                # Shown at the form field the path starts with: "group_by[1].truncate: ...".
                head = problem.path.split(".")[0].split("[")[0]
                field = head if head in DEFINITION_FIELDS else NON_FIELD_ERRORS
                problems.setdefault(field, []).append(str(problem))
        if problems:
            raise ValidationError(problems)


class ReportRow(models.Model):
    """One group's aggregate state: its group values and, per aggregate column, exact state.

    ``g0``..``g3`` hold the group values as text (API filters match them; strings are at most
    200 characters, numbers at most about 430, so they stay indexable); ``sort`` orders
    groups naturally (numbers by value, ``null`` last) in SQL, so paging is stable.
    """

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="rows")
    key = models.CharField(max_length=64, help_text="sha256 of the group values.")
    values = models.JSONField(default=list)
    g0 = models.TextField(null=True, blank=True)
    g1 = models.TextField(null=True, blank=True)
    g2 = models.TextField(null=True, blank=True)
    g3 = models.TextField(null=True, blank=True)
    sort = models.BinaryField(default=b"")
    records = models.BigIntegerField(default=0)
    state = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "key"], name="trellis_reports_row_unique")
        ]
        indexes = [
            models.Index(fields=["report", "sort"], name="trellis_reports_row_sort"),
            models.Index(fields=["report", "g0"], name="trellis_reports_row_g0"),
            models.Index(fields=["report", "g1"], name="trellis_reports_row_g1"),
            models.Index(fields=["report", "g2"], name="trellis_reports_row_g2"),
            models.Index(fields=["report", "g3"], name="trellis_reports_row_g3"),
        ]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.values}"


class ReportDistinct(models.Model):
    """A value seen in one group for one ``count_distinct`` column, and in how many records."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64, help_text="The group's key.")
    alias = models.CharField(max_length=63)
    value = models.CharField(max_length=64, help_text="sha256 of the value's identity.")
    records = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["report", "key", "alias", "value"], name="trellis_reports_distinct_unique"
            )
        ]


class AppliedRecord(models.Model):
    """A mark that the record ``record_id`` is counted in ``report`` (unique: at most once),
    with the revision counted and what it contributed: its group's key and its per-column
    parts (JSON by alias: ``count`` a boolean, ``count_distinct`` the value's sha256, the
    others exact decimal text or ``null``). ``key`` and ``parts`` are ``null`` for a record
    the filters left out (marked only for a source with a ``revision_field``); ``revision``
    is ``null`` for a mark written before contributions were kept (trellis-reports 0.1),
    whose contribution is unknown: replacing it flags the report for a rebuild."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="+")
    record_id = models.CharField(max_length=200)
    revision = models.BigIntegerField(null=True, blank=True)
    key = models.CharField(max_length=64, null=True, blank=True, help_text="The group's key.")
    parts = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["report", "record_id"], name="trellis_reports_applied_unique"
            )
        ]
        indexes = [
            # A group's marks, to recompute its min/max when a revision takes a record back.
            models.Index(fields=["report", "key"], name="trellis_reports_applied_key"),
            # Marks from before contributions were kept (none once the report is rebuilt).
            models.Index(
                fields=["report"],
                condition=models.Q(revision__isnull=True),
                name="trellis_reports_applied_old",
            ),
        ]
