"""Two submissions creating the same two new cases in opposite rule order, on PostgreSQL.

Each inserts its first case, then both go on (a barrier holds them there when it can): with
the inserts in rule order, each then waits for the other's uncommitted case, a deadlock that
PostgreSQL breaks by failing one of them (a 500). Inserting in case id order, the second
waits for the first and then retries as documented: both are stored.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.postgres

SCRIPT = """
import json
import threading

import django

django.setup()

from django.core.management import call_command
from django.db import connection

from trellis import forms
from trellis.forms.models import Case, CaseChange, Submission

call_command("migrate", verbosity=0)
forms.domain_create(name="demo")
schema = {"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "string"}}}
rules = [
    {"case_type": "pair", "case_id": "/x", "action": "upsert", "properties": {"other": "/y"}},
    {"case_type": "pair", "case_id": "/y", "action": "upsert", "properties": {"other": "/x"}},
]
forms.form_define(domain="demo", name="pair", version=1, schema=schema, case_rules=rules)

state = threading.local()
barrier = threading.Barrier(2, timeout=2)
original = Case.save

def save(self, *args, **kwargs):
    original(self, *args, **kwargs)
    if not getattr(state, "waited", False):
        state.waited = True
        try:
            barrier.wait()  # both have inserted their first case (unless one waits on it)
        except threading.BrokenBarrierError:
            pass

Case.save = save
answers = [None, None]

def run(index, data):
    state.waited = False
    try:
        result = forms.submit(domain="demo", form="pair", submission_id=f"s-{index}", data=data)
        answers[index] = result.status
    except Exception as exc:
        answers[index] = type(exc).__name__
    finally:
        connection.close()

threads = [
    threading.Thread(target=run, args=(0, {"x": "c1", "y": "c2"})),
    threading.Thread(target=run, args=(1, {"x": "c2", "y": "c1"})),
]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
print(json.dumps({
    "answers": answers,
    "submissions": Submission.objects.count(),
    "cases": Case.objects.count(),
    "changes": sorted(CaseChange.objects.values_list("action", flat=True)),
}))
"""


def test_opposite_rule_orders_never_deadlock(run_on_postgres) -> None:
    result = run_on_postgres(SCRIPT)
    assert result["answers"] == [201, 201], result
    assert (result["submissions"], result["cases"]) == (2, 2)
    assert result["changes"] == ["create", "create", "update", "update"]
