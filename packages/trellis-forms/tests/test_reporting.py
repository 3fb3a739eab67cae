"""The ``forms-reports`` plugin: sources built by the payload functions, and who may view."""

from __future__ import annotations

import json

import pytest

from trellis import forms
from trellis.events.models import OutboxEvent
from trellis.forms import reporting

pytestmark = pytest.mark.django_db

reports = pytest.importorskip("trellis.reports")


def test_hook_reports_sources_replays_exactly_the_published_payloads(demo) -> None:
    for n in range(3):
        forms.submit(
            domain="demo",
            form="household_visit",
            submission_id=f"s-{n}",
            data={"household_id": f"h{n % 2}", "village": "v", "household_size": n + 1},
            attachments=[forms.Attachment("p", bytes([n]))],
        )
    by_topic = {s.topic: s for s in reporting.reports_sources()}
    assert all(isinstance(s, reports.Source) for s in by_topic.values())
    for topic, id_field in (("form.submitted", "submission_id"), ("case.changed", "change_id")):
        published = [
            json.loads(e.payload) for e in OutboxEvent.objects.filter(topic=topic).order_by("id")
        ]
        source = by_topic[topic]
        assert source.id_field == id_field
        assert list(source.records("demo")) == published
        assert list(source.records("other")) == []
    assert len(list(by_topic["case.changed"].records("demo"))) == 3


def test_hook_reports_can_view(demo) -> None:
    assert reporting.reports_can_view(user=demo.user, domain="demo") is True
    assert reporting.reports_can_view(user=demo.outsider, domain="demo") is None
