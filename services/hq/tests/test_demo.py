"""The newcomer's first start, driven from the outside: hq_demo's data, a browser, a fuzzer.

One hq process on the embedded profile (SQLite, inline events) is seeded by ``hq_demo`` exactly
as ``nox -s serve`` seeds it, then served by gunicorn. The tests check what a newcomer and a
device see over HTTP: the report page's chart and table (in headless Chromium) carry the
numbers computed here independently from the generated submissions; a submission with an
attachment and a case block round-trips through the API; and schemathesis fuzzes every
operation of ``/api/openapi.json`` without one server error or undocumented response.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from hq import demo

TODAY = date(2026, 11, 30)
COUNT = 240
ROUND_TRIP_DAY = "2020-01-06"  # a Monday long before the demo's weeks: its own report row


@dataclass
class Demo:
    server: object
    username: str
    password: str
    api_key: str


def _expected_rows() -> dict[tuple[str, str], tuple[int, Decimal]]:
    """(village, monday) → (visits, average household size), from the generated data."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for visit in demo.submissions(COUNT, today=TODAY):
        data = visit["data"]
        day = date.fromisoformat(data["visit_date"])
        monday = (day - timedelta(days=day.weekday())).isoformat()
        groups[(data["village"], monday)].append(data["household_size"])
    return {k: (len(v), Decimal(sum(v)) / len(v)) for k, v in groups.items()}


API_KEY_SCRIPT = """
import django; django.setup()
from django.contrib.auth import get_user_model
from trellis import forms
user = get_user_model().objects.get(username={username!r})
print(forms.api_key_create(user=user, name="tests"))
"""


@pytest.fixture(scope="module")
def demo_server(hq, tmp_path_factory):
    env = hq.env(tmp_path_factory.mktemp("hq-demo"))
    hq.manage(env, "migrate", "--no-input")
    admin = hq.manage(env, "trellis_demo_admin").stdout
    match = re.search(r"username=(\S+) password=(\S+)", admin)
    assert match, admin
    seeded = hq.manage(env, "hq_demo", "--submissions", str(COUNT), "--today", TODAY.isoformat())
    assert f"{COUNT} submissions" in seeded.stdout, seeded.stdout + seeded.stderr
    again = hq.manage(env, "hq_demo", "--submissions", "5")
    assert "already seeded" in again.stdout  # once: a second start adds nothing
    key = (
        subprocess.run(
            [sys.executable, "-c", API_KEY_SCRIPT.format(username=match[1])],
            env={**env, "DJANGO_SETTINGS_MODULE": "hq.settings"},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    server = hq.start(env)
    yield Demo(server, match[1], match[2], key)
    hq.stop(server)


def _request(server, method, path, *, body=None, headers=None):
    request = urllib.request.Request(
        server.url + path, data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def _api(demo_server, method, path, **kwargs):
    headers = {"Authorization": f"ApiKey {demo_server.username}:{demo_server.api_key}"}
    headers.update(kwargs.pop("headers", {}))
    return _request(demo_server.server, method, path, headers=headers, **kwargs)


def test_the_demo_report_holds_the_generated_numbers(demo_server):
    status, body, _ = _api(
        demo_server, "GET", f"/a/{demo.DOMAIN}/api/reports/{demo.REPORT}/?limit=1000"
    )
    assert status == 200, body
    report = json.loads(body)
    got = {
        (row["village"], row["week"]): (row["visits"], Decimal(str(row["avg_household_size"])))
        for row in report["rows"]
        if row["week"] != ROUND_TRIP_DAY  # whether or not the round trip ran first
    }
    expected = _expected_rows()
    assert set(got) == set(expected)
    for group, (visits, average) in expected.items():
        assert got[group][0] == visits, group
        assert abs(got[group][1] - average) < Decimal("0.01"), group


def test_a_submission_with_an_attachment_round_trips(demo_server):
    boundary = uuid.uuid4().hex
    submission_id = f"roundtrip-{uuid.uuid4().hex[:8]}"
    payload = {
        "form": demo.FORM,
        "id": submission_id,
        "data": {
            "household_id": "hh-9999",
            "village": "Amani",
            "visit_date": ROUND_TRIP_DAY,
            "household_size": 4,
        },
    }
    photo = b"\x89PNG\r\n\x1a\n" + os.urandom(2048)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="submission"\r\n'
        "Content-Type: application/json\r\n\r\n".encode()
        + json.dumps(payload).encode()
        + b"\r\n",
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="door.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + photo
        + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    body = b"".join(parts)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    path = f"/a/{demo.DOMAIN}/receiver/"
    status, answer, _ = _api(demo_server, "POST", path, body=body, headers=headers)
    assert status == 201, answer
    result = json.loads(answer)
    assert [c["case_id"] for c in result["cases"]] == ["hh-9999"]
    [attachment] = result["attachments"]
    # the resend answers the original result, and stores nothing twice
    again, answer_again, _ = _api(demo_server, "POST", path, body=body, headers=headers)
    assert (again, json.loads(answer_again)) == (200, result)
    # the attachment is served, to a member, byte for byte
    status, content, _ = _api(demo_server, "GET", f"/blobs/{attachment['key']}")
    assert (status, content) == (200, photo)
    status, case, _ = _api(demo_server, "GET", f"/a/{demo.DOMAIN}/api/cases/hh-9999/")
    assert status == 200
    case = json.loads(case)
    assert case["properties"]["village"] == "Amani"
    assert [h["submission_id"] for h in case["history"]] == [submission_id]


def _log_in(page, demo_server, next_path):
    page.goto(f"{demo_server.server.url}/admin/login/?next={next_path}")
    page.fill("#id_username", demo_server.username)
    page.fill("#id_password", demo_server.password)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def test_the_dashboard_links_to_the_demo_report_in_a_browser(demo_server, chromium):
    page = chromium.new_page()
    requests_off_site = []
    page.on(
        "request",
        lambda r: r.url.startswith(demo_server.server.url) or requests_off_site.append(r.url),
    )
    _log_in(page, demo_server, "/")
    # the Domains panel links each count to the admin list it counts, filtered to the domain
    domains = page.locator("section#panel-forms\\.domains")
    cells = domains.locator("tbody tr, tr").filter(has_text=demo.DOMAIN).last.locator("td")
    cases_link = cells.nth(4).locator("a")
    cases_total = int(cases_link.inner_text())
    assert cases_total > 0
    cases_link.click()
    page.wait_for_load_state()
    assert "/admin/" in page.url and "domain__id__exact=" in page.url
    assert f"{cases_total} case" in page.locator("#changelist").inner_text().lower()
    page.go_back()
    page.wait_for_load_state()
    link = page.get_by_role("link", name=demo.REPORT_DEFINITION["title"])
    assert link.count() >= 1
    link.first.click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/reports/{demo.DOMAIN}/{demo.REPORT}/")
    status, body, _ = _api(
        demo_server, "GET", f"/a/{demo.DOMAIN}/api/reports/{demo.REPORT}/?limit=1000"
    )
    assert status == 200
    _check_report_page(page, json.loads(body)["rows"])
    assert requests_off_site == []  # nothing from a CDN or anywhere else
    page.close()


def _check_report_page(page, api_rows):
    """The page's table and chart show the rows the report API serves."""
    table = page.locator("table#report-table")
    assert table.count() == 1
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    rows = [
        dict(zip(headers, (c.strip() for c in row.locator("td").all_inner_texts()), strict=True))
        for row in table.locator("tbody tr").all()
    ]
    by_group = {(r["village"], r["week"]): r for r in api_rows}
    assert len(rows) == len(by_group)
    for row in rows:
        expected = by_group[(row["village"], row["week"])]
        assert int(row["visits"]) == expected["visits"]
        assert Decimal(row["avg_household_size"]) == Decimal(str(expected["avg_household_size"]))
    chart = page.locator("svg#report-chart")
    assert chart.count() == 1 and chart.is_visible()
    marks = [
        (m.get_attribute("data-series"), m.get_attribute("data-x"), m.get_attribute("data-y"))
        for m in chart.locator("circle.point").all()
    ]
    assert sorted(marks) == sorted((r["village"], r["week"], str(r["visits"])) for r in api_rows)
    legend = chart.locator("g.legend-item").all_text_contents()  # SVG has no innerText
    assert sorted(legend) == sorted(demo.VILLAGES)


def test_the_api_document_survives_fuzzing(demo_server, tmp_path):
    """schemathesis against the running service: no 5xx, every response as documented."""
    status, document, _ = _api(demo_server, "GET", "/api/openapi.json")
    assert status == 200
    paths = json.loads(document)["paths"]
    assert {"/a/{domain}/receiver/", "/a/{domain}/api/cases/"} <= set(paths)
    cli = Path(sys.executable).parent / "schemathesis"
    assert cli.exists(), "schemathesis is in the root [dependency-groups] test"
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(_pinned(json.loads(document))))
    run = subprocess.run(
        [
            str(cli),
            "run",
            str(spec),
            "--url",
            demo_server.server.url,
            "-H",
            f"Authorization: ApiKey {demo_server.username}:{demo_server.api_key}",
            "--checks",
            "not_a_server_error,status_code_conformance,"
            "content_type_conformance,response_schema_conformance",
            "--max-examples",
            "25",
            "--seed",
            "12",
            "--workers",  # one: ast.parse is not thread-safe on CPython 3.11.7 (SystemError)
            "1",
            "--request-timeout",
            "20",
            "--no-color",
            "--report-dir",
            str(tmp_path / "report"),
            "--generation-database",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # its crash cache (.schemathesis/) goes there, not into the checkout
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


PINNED = {  # path parameters the fuzzer draws from: the real demo objects, and one of each missing
    "domain": [demo.DOMAIN, "no-such-domain"],
    "slug": [demo.REPORT, "no_such_report"],
    "case_id": ["hh-0001", "hh-0002", "no-such-case"],
}


def _pinned(document: dict) -> dict:
    """The document with path parameters narrowed to :data:`PINNED`, so that the fuzzer reaches
    the demo's real domain, report and cases instead of random names that all answer 404."""
    for item in document["paths"].values():
        for operation in [item, *item.values()]:
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") in PINNED:
                    parameter["schema"] = {"enum": PINNED[parameter["name"]]}
    submission = document["components"]["schemas"]["FormsSubmission"]
    submission["properties"]["form"] = {"enum": [demo.FORM, "no_such_form"]}
    return document
