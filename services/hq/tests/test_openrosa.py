"""Field clients nobody here wrote, against hq as a newcomer starts it (embedded profile,
seeded by hq_demo, gunicorn with two workers): an ODK Collect-like client (requests' Digest),
a chunked upload, racing duplicates, and Enketo (enketo-core + enketo-transformer from npm)
filling the demo's XLSForm in headless Chromium, whose record then shows in the demo report.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from hq import demo

ROOT = Path(__file__).resolve().parents[3]
TODAY = "2026-11-30"
WORKER, PASSWORD = "fieldworker", "a field pass phrase"
HERE = Path(__file__).resolve().parent


def _load(name: str, path: Path):  # the test folders are no packages (--import-mode=importlib)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


collect = _load("openrosa_collect", ROOT / "packages/trellis-openrosa/tests/collect.py")

WORKER_SCRIPT = """
import django
django.setup()
from django.contrib.auth import get_user_model
from trellis import forms
user = get_user_model().objects.create_user({username!r})
forms.member_add(domain="demo", user=user)
forms.api_key_create(user=user, name="tests")
print(forms.api_key_create(user=user, name="reports").authorization)
"""


@pytest.fixture(scope="module")
def field_server(hq, tmp_path_factory):
    env = hq.env(tmp_path_factory.mktemp("hq-openrosa"))
    hq.manage(env, "migrate", "--no-input")
    seeded = hq.manage(env, "hq_demo", "--submissions", "120", "--today", TODAY)
    assert "120 submissions" in seeded.stdout, seeded.stdout + seeded.stderr
    made = subprocess.run(
        [sys.executable, "-c", WORKER_SCRIPT.format(username=WORKER)],
        env={**env, "DJANGO_SETTINGS_MODULE": "hq.settings"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    key = made.stdout.strip().splitlines()[-1]
    password = hq.manage(
        {**env, "TRELLIS_OPENROSA_PASSWORD": PASSWORD}, "openrosa_password", WORKER
    )
    assert "Digest sign-in works" in password.stdout, password.stdout + password.stderr
    server = hq.start(env, options=("-w", "2", "--threads", "4"))
    yield server, key
    hq.stop(server)


def _client(field_server) -> object:
    server, _ = field_server
    return collect.Collect(server.url, demo.DOMAIN, WORKER, PASSWORD)


def _report(field_server) -> dict[tuple[str, str], int]:
    server, key = field_server
    status, body = server_get(
        server, f"/a/{demo.DOMAIN}/api/reports/{demo.REPORT}/?limit=1000", key
    )
    assert status == 200, body
    return {(r["village"], r["week"]): r["visits"] for r in json.loads(body)["rows"]}


def server_get(server, path: str, authorization: str) -> tuple[int, bytes]:
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": authorization})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _visit(instance_id: str, household: str, day: str, *, photo: str = "") -> bytes:
    body = (
        f"<household_id>{household}</household_id><village>Dodoma</village>"
        f"<visit_date>{day}</visit_date><household_size>7</household_size>"
        f"<water_source>well</water_source><photo>{photo}</photo>"
        f'<meta><entity dataset="household" update="1" id="{household}"><label>{household}'
        f"</label></entity><instanceID>{instance_id}</instanceID></meta>"
    )
    return (f'<?xml version="1.0"?><data id="{demo.ODK_FORM}" version="1">{body}</data>').encode()


def test_collect_lists_downloads_and_submits_with_a_photo(field_server) -> None:
    client = _client(field_server)
    [entry] = client.form_list(demo.ODK_FORM)
    xform, media = client.download(entry)  # the md5s in the list and manifest are the files'
    assert b"household_visit_odk" in xform and list(media) == ["household.csv"]
    photo = os.urandom(100 * 1024)
    sent = client.submit(
        _visit("uuid:collect-1", "hh-0003", "2020-03-02", photo="house.jpg"), {"house.jpg": photo}
    )
    assert sent.statuses == [201]
    assert _report(field_server)[("Dodoma", "2020-03-02")] == 1
    server, key = field_server
    status, case = server_get(server, f"/a/{demo.DOMAIN}/api/cases/hh-0003/", key)
    assert status == 200
    assert json.loads(case)["properties"]["household_size"] == 7
    # resending the same XML (Collect after a lost answer) is no second visit
    assert client.submit(
        _visit("uuid:collect-1", "hh-0003", "2020-03-02", photo="house.jpg")
    ).statuses == [201]
    assert _report(field_server)[("Dodoma", "2020-03-02")] == 1


def test_a_chunked_upload_is_read(field_server) -> None:
    server, _ = field_server
    client = _client(field_server)
    xml = _visit("uuid:chunked-1", "hh-0004", "2020-03-09")
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
        f'filename="s.xml"\r\nContent-Type: text/xml\r\n\r\n'.encode()
        + xml
        + f"\r\n--{boundary}--\r\n".encode()
    )
    # The Digest answer for this URI, from requests' implementation, then a chunked POST.
    head = client.session.head(f"{client.base}/submission", timeout=10)
    assert head.status_code == 204
    authorization = head.request.headers["Authorization"].replace("HEAD", "POST")
    digest = client.session.auth
    authorization = digest.build_digest_header("POST", f"{client.base}/submission")
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.putrequest("POST", f"/a/{demo.DOMAIN}/submission")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("X-OpenRosa-Version", "1.0")
    connection.putheader("Authorization", authorization)
    connection.endheaders()
    for start in range(0, len(body), 100):
        piece = body[start : start + 100]
        connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    connection.send(b"0\r\n\r\n")
    response = connection.getresponse()
    answer = response.read()
    connection.close()
    assert response.status == 201, answer
    assert _report(field_server)[("Dodoma", "2020-03-09")] == 1


def test_racing_identical_posts_make_one_visit(field_server) -> None:
    xml = _visit("uuid:race-1", "hh-0005", "2020-03-16")
    statuses: list[int] = []

    def post() -> None:
        statuses.extend(_client(field_server).submit(xml).statuses)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 6
    assert _report(field_server)[("Dodoma", "2020-03-16")] == 1


def test_enketo_fills_the_demo_form_and_the_report_shows_it(field_server, chromium) -> None:
    import shutil

    if shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("npm is missing: .ci/run installs Debian's nodejs and npm")
        pytest.skip("the Enketo test needs Node.js and npm (apt-get install nodejs npm)")
    harness = _load("enketo_harness", HERE / "enketo_harness.py")
    server, _ = field_server
    client = _client(field_server)
    [entry] = client.form_list(demo.ODK_FORM)
    xform, media = client.download(entry)  # the XForm and the entity list it reads
    assert entry["hash"] == "md5:" + hashlib.md5(xform).hexdigest()
    households = media["household.csv"].decode()
    assert households.splitlines()[0].startswith("name,label,__version,")
    assert "\nhh-0006," in households
    context = chromium.new_context(http_credentials={"username": WORKER, "password": PASSWORD})
    page = context.new_page()
    enketo = harness.Enketo(page, server.url)
    enketo.load(xform.decode(), {"household": harness.csv_instance(households)})
    enketo.field("/data/household_id").fill("hh-0006")
    page.locator('form.or [name="/data/village"][value="Furaha"]').check()
    # Enketo's date widget: the text box a user types in (the input bound to the model hides)
    day = page.locator('form.or .question:has([name="/data/visit_date"]) .widget.date input')
    day.fill("2020-03-23")
    day.press("Tab")
    enketo.field("/data/household_size").fill("6")
    page.locator('form.or [name="/data/water_source"][value="rain"]').check()
    xml, instance_id = enketo.serialize()
    assert re.fullmatch(r"uuid:[0-9a-f-]{36}", instance_id)
    status, body = enketo.submit(f"/a/{demo.DOMAIN}/submission", xml)
    assert status == 201, body
    assert "OpenRosaResponse" in body
    assert enketo.blocked == [] and enketo.errors == []
    assert _report(field_server)[("Furaha", "2020-03-23")] == 1
    _, key = field_server
    status, case = server_get(server, f"/a/{demo.DOMAIN}/api/cases/hh-0006/", key)
    assert json.loads(case)["properties"]["water_source"] == "rain"
    context.close()
