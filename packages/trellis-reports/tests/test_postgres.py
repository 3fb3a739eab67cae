"""On PostgreSQL: publishers (whose inline processor counts records) and repeated rebuilds run
at the same time, in separate processes; every record must be counted exactly once.

The source reads the records back from the outbox itself: a record exists exactly when its
event committed, as with a real source whose row commits with its event.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trellis.core.testing import clean_environ

pytestmark = pytest.mark.postgres

PUBLISHERS = 3
PER_PUBLISHER = 120

SETTINGS = """
import dj_database_url
import pg_plugin
from trellis.core.django import compose

SECRET_KEY = "postgres-test-only"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
DATABASES = {"default": dj_database_url.parse(DATABASE)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
compose(globals(), plugins=[pg_plugin])
"""

PLUGIN = """
import json

from trellis import events, reports
from trellis.core import hookimpl

TRELLIS_IMPLEMENTS = {"events": ">=1.0,<2", "reports": ">=1.0,<2"}
TOPIC = "pgtest.submitted"


def records(domain):
    from trellis.events.models import OutboxEvent

    rows = OutboxEvent.objects.filter(topic=TOPIC).values_list("payload", flat=True)
    for text in rows.iterator(chunk_size=200):
        record = json.loads(text)
        if record["domain"] == domain:
            yield record


@hookimpl
def events_topics():
    return [
        events.Topic(TOPIC, "form.submitted-shaped test records"),
        events.Topic(REVISED, "the same, edited: a revision field"),
    ]


REVISED = "pgtest.revised"


def latest(domain):
    # Each record's highest committed revision (as a source that edits rows in place).
    from trellis.events.models import OutboxEvent

    found = {}
    rows = OutboxEvent.objects.filter(topic=REVISED).values_list("payload", flat=True)
    for text in rows.iterator(chunk_size=200):
        record = json.loads(text)
        if record["domain"] != domain:
            continue
        known = found.get(record["submission_id"])
        if known is None or record["revision"] > known["revision"]:
            found[record["submission_id"]] = record
    yield from found.values()


@hookimpl
def reports_sources():
    return [
        reports.Source(TOPIC, "submission_id", records),
        reports.Source(REVISED, "submission_id", latest, revision_field="revision"),
    ]
"""

SETUP = """
import django

django.setup()
from trellis import reports

reports.report_define(
    domain="demo", slug="visits", title="Visits", source_topic="pgtest.submitted",
    group_by=[{"field": "data.village", "as": "village"}],
    aggregates=[
        {"fn": "count", "as": "visits"},
        {"fn": "sum", "field": "data.household_size", "as": "people"},
        {"fn": "count_distinct", "field": "user", "as": "users"},
    ],
)
# A group value whose text is long (a tiny number: ~300 digits) must fit its column.
reports.report_define(
    domain="demo", slug="tiny", title="Tiny", source_topic="pgtest.submitted",
    group_by=[{"field": "data.tiny", "as": "tiny"}],
    aggregates=[{"fn": "count", "as": "n"}],
)
"""

PUBLISH = """
import sys
import django

django.setup()
from django.db import transaction
from trellis import events

worker, count = sys.argv[1], int(sys.argv[2])
for start in range(0, count, 4):
    with transaction.atomic():
        for n in range(start, min(start + 4, count)):
            sid = f"w{worker}-{n}"
            events.publish(topic="pgtest.submitted", key=f"demo:{sid}", payload={
                "domain": "demo", "form": "household_visit", "form_version": 1,
                "submission_id": sid, "received_at": "2026-01-05T10:00:00.000000Z",
                "user": f"u{n % 7}", "attachments": [], "cases": [],
                "data": {"village": ["north", "south", "east"][n % 3],
                         "household_size": [1, 2.5, 0.1, 4][n % 4], "tiny": 1.5e-300},
            })
print("published", count)
"""

REBUILD = """
import sys
import time
import django

django.setup()
from trellis import reports

done = 0
while done < int(sys.argv[1]):
    reports.report_rebuild(domain="demo", slug="visits")
    done += 1
    time.sleep(0.05)
print("rebuilt", done)
"""

CHECK = """
import json
from collections import defaultdict
from decimal import Decimal

import django

django.setup()
from trellis import reports
from trellis.events.models import OutboxEvent
from trellis.reports.models import AppliedRecord


def numbers():
    rows = reports.report_query(domain="demo", slug="visits").rows
    return {r["village"]: [r["visits"], str(r["people"]), r["users"]] for r in rows}


expected = defaultdict(lambda: [0, Decimal(0), set()])
for text in OutboxEvent.objects.filter(topic="pgtest.submitted").values_list("payload", flat=True):
    record = json.loads(text)
    slot = expected[record["data"]["village"]]
    slot[0] += 1
    slot[1] += Decimal(repr(record["data"]["household_size"]))
    slot[2].add(record["user"])
incremental = numbers()
marks = AppliedRecord.objects.count()
reports.report_rebuild(domain="demo", slug="visits")
print(json.dumps({
    "expected": {k: [v[0], format(v[1].normalize(), "f"), len(v[2])] for k, v in expected.items()},
    "incremental": incremental,
    "rebuilt": numbers(),
    "marks": marks,
    "tiny": [
        [len(str(r["tiny"])), r["n"]]
        for r in reports.report_query(domain="demo", slug="tiny").rows
    ],
}))
"""


SETUP_REVISED = """
import django

django.setup()
from trellis import reports

reports.report_define(
    domain="demo", slug="revised", title="Revised", source_topic="pgtest.revised",
    filters=[{"field": "form", "op": "eq", "value": "household_visit"}],
    group_by=[{"field": "data.village", "as": "village"}],
    aggregates=[
        {"fn": "count", "as": "n"},
        {"fn": "sum", "field": "data.size", "as": "total"},
        {"fn": "min", "field": "data.size", "as": "low"},
        {"fn": "max", "field": "data.size", "as": "high"},
        {"fn": "count_distinct", "field": "user", "as": "users"},
    ],
)
"""

PUBLISH_REVISED = """
import sys
import django

django.setup()
from django.db import transaction
from trellis import events

worker, count = sys.argv[1], int(sys.argv[2])
# Each record is published, then edited twice, its revisions in separate transactions that
# interleave with other records' (and with the other workers and the rebuilds).
steps = [(n, r) for n in range(count) for r in (1, 2, 3)]
steps.sort(key=lambda s: (s[0] // 5 + s[1] * 2, s[0]))
for start in range(0, len(steps), 3):
    with transaction.atomic():
        for n, revision in steps[start:start + 3]:
            sid = f"w{worker}-{n}"
            seed = n * 7 + revision * 13 + int(worker) * 3
            events.publish(topic="pgtest.revised", key=f"demo:{sid}", payload={
                "domain": "demo", "submission_id": sid, "revision": revision,
                "form": "household_visit" if seed % 5 else "follow_up",
                "user": f"u{seed % 6}",
                "data": {"village": ["north", "south", "east"][seed % 3],
                         "size": (seed * 7919 % 2003) / 10 - 100},
            })
print("published", count)
"""

REBUILD_REVISED = REBUILD.replace('slug="visits"', 'slug="revised"')

CHECK_REVISED = """
import json
from decimal import Decimal

import django

django.setup()
from trellis import reports
from trellis.reports.models import Report

import pg_plugin


def numbers():
    rows = reports.report_query(domain="demo", slug="revised").rows
    return {r["village"]: [r["n"], str(r["total"]), str(r["low"]), str(r["high"]), r["users"]]
            for r in rows}


groups = {}
for record in pg_plugin.latest("demo"):
    if record["form"] != "household_visit":
        continue
    groups.setdefault(record["data"]["village"], []).append(record)
expected = {
    village: [
        len(members),
        format(sum(Decimal(repr(m["data"]["size"])) for m in members).normalize(), "f"),
        format(min(Decimal(repr(m["data"]["size"])) for m in members).normalize(), "f"),
        format(max(Decimal(repr(m["data"]["size"])) for m in members).normalize(), "f"),
        len({m["user"] for m in members}),
    ]
    for village, members in groups.items()
}
incremental = numbers()
report = Report.objects.get(slug="revised")
counts = [report.records, report.groups, report.needs_rebuild]
reports.report_rebuild(domain="demo", slug="revised")
print(json.dumps({"expected": expected, "incremental": incremental, "rebuilt": numbers(),
                  "counts": counts}))
"""


def run(env: dict[str, str], cwd: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def test_processor_and_rebuilds_racing_count_each_record_once(
    trellis_postgres_database: str, tmp_path: Path
) -> None:
    (tmp_path / "pg_settings.py").write_text(
        f"DATABASE = {trellis_postgres_database!r}\n" + textwrap.dedent(SETTINGS), encoding="utf-8"
    )
    for name, text in (
        ("pg_plugin.py", PLUGIN),
        ("setup_report.py", SETUP),
        ("publish.py", PUBLISH),
        ("rebuild.py", REBUILD),
        ("check.py", CHECK),
    ):
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    env = clean_environ(
        {
            "DJANGO_SETTINGS_MODULE": "pg_settings",
            "PYTHONPATH": str(tmp_path),
            "TRELLIS_PLUGINS_ALLOW": "events,events-inline,reports,pg_plugin",
        }
    )
    run(env, tmp_path, "-m", "django", "migrate", "-v0")
    run(env, tmp_path, "setup_report.py")
    workers = [
        subprocess.Popen(
            [sys.executable, "publish.py", str(n), str(PER_PUBLISHER)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PUBLISHERS)
    ]
    rebuilder = subprocess.Popen(
        [sys.executable, "rebuild.py", "6"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for process in [*workers, rebuilder]:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-4000:]
    run(env, tmp_path, "-m", "django", "events_consume", "--once")
    found = json.loads(run(env, tmp_path, "check.py").strip().splitlines()[-1])
    total = PUBLISHERS * PER_PUBLISHER
    assert sum(v[0] for v in found["expected"].values()) == total
    assert found["incremental"] == found["expected"]
    assert found["rebuilt"] == found["expected"]
    assert found["marks"] == total * 2  # one per record in each of the two reports
    assert found["tiny"] == [[8, total]]


def test_revisions_racing_rebuilds_end_at_each_records_latest_revision(
    trellis_postgres_database: str, tmp_path: Path
) -> None:
    (tmp_path / "pg_settings.py").write_text(
        f"DATABASE = {trellis_postgres_database!r}\n" + textwrap.dedent(SETTINGS), encoding="utf-8"
    )
    for name, text in (
        ("pg_plugin.py", PLUGIN),
        ("setup_report.py", SETUP_REVISED),
        ("publish.py", PUBLISH_REVISED),
        ("rebuild.py", REBUILD_REVISED),
        ("check.py", CHECK_REVISED),
    ):
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    env = clean_environ(
        {
            "DJANGO_SETTINGS_MODULE": "pg_settings",
            "PYTHONPATH": str(tmp_path),
            "TRELLIS_PLUGINS_ALLOW": "events,events-inline,reports,pg_plugin",
        }
    )
    run(env, tmp_path, "-m", "django", "migrate", "-v0")
    run(env, tmp_path, "setup_report.py")
    processes = [
        subprocess.Popen(
            [sys.executable, *args],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in [
            *(["publish.py", str(n), str(PER_PUBLISHER // 2)] for n in range(PUBLISHERS)),
            ["rebuild.py", "6"],
        ]
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-4000:]
    run(env, tmp_path, "-m", "django", "events_consume", "--once")
    found = json.loads(run(env, tmp_path, "check.py").strip().splitlines()[-1])
    assert found["expected"]
    assert found["incremental"] == found["expected"]
    assert found["rebuilt"] == found["expected"]
    records, groups, needs_rebuild = found["counts"]
    assert records == sum(v[0] for v in found["expected"].values())
    assert (groups, needs_rebuild) == (len(found["expected"]), False)
