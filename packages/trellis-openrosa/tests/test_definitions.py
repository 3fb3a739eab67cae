"""Adding XLSForms and media: the XForm, the trellis-forms definition, errors, admin."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from trellis import forms, openrosa
from trellis.forms.models import FormDefinition
from trellis.openrosa.models import XForm

from .conftest import ENTITIES, IMAGES, PASSWORD, SIMPLE

pytestmark = pytest.mark.django_db


def test_an_xlsform_defines_the_next_forms_version(field: Any) -> None:
    xform = XForm.objects.get(form_id="household_visit")
    assert (xform.version, xform.definition.version, xform.definition.name) == (
        "1",
        1,
        "household_visit",
    )
    assert xform.definition.schema["properties"]["household_size"] == {"type": "integer"}
    again = openrosa.xlsform_add(domain="demo", content=SIMPLE.encode(), filename="h.md")
    assert again.pk == xform.pk  # the same XLSForm again changes nothing
    changed = SIMPLE.replace("| 1       | Household visit |", "| 2       | Household visit |")
    second = openrosa.xlsform_add(
        domain="demo", content=changed.replace("People", "Persons").encode(), filename="h.md"
    )
    assert (second.version, second.definition.version) == ("2", 2)
    with pytest.raises(openrosa.XFormExists, match="set a new 'version'"):
        openrosa.xlsform_add(
            domain="demo", content=changed.replace("People", "Folk").encode(), filename="h.md"
        )


def test_a_json_defined_form_gets_the_next_version(field: Any) -> None:
    forms.form_define(
        domain="demo", name="tree_visit", version=1, schema={"type": "object"}, case_rules=[]
    )
    xform = openrosa.xlsform_add(domain="demo", content=ENTITIES.encode(), filename="t.md")
    assert xform.definition.version == 2
    assert xform.definition.case_rules[0]["case_type"] == "trees"


def test_conversion_errors_name_the_problem_and_define_nothing(field: Any) -> None:
    before = FormDefinition.objects.count()
    with pytest.raises(openrosa.XLSFormError):
        openrosa.xlsform_add(domain="demo", content=b"not a form", filename="x.md")
    with pytest.raises(openrosa.XLSFormError, match=r"\.xlsx"):
        openrosa.xlsform_add(domain="demo", content=b"x", filename="x.csv")
    with pytest.raises(forms.DomainNotFound):
        openrosa.xlsform_add(domain="nowhere", content=SIMPLE.encode(), filename="h.md")
    assert FormDefinition.objects.count() == before


def test_media_only_for_files_the_form_references(field: Any) -> None:
    openrosa.xlsform_add(domain="demo", content=IMAGES.encode(), filename="s.md")
    with pytest.raises(openrosa.MediaNotExpected, match=r"references: logo\.png"):
        openrosa.media_add(domain="demo", form_id="site_photo", name="other.png", content=b"x")
    first = openrosa.media_add(domain="demo", form_id="site_photo", name="logo.png", content=b"1")
    second = openrosa.media_add(domain="demo", form_id="site_photo", name="logo.png", content=b"2")
    assert first.md5 != second.md5
    assert list(XForm.objects.get(form_id="site_photo").media.values_list("md5", flat=True)) == [
        second.md5
    ]
    with pytest.raises(openrosa.XFormNotFound):
        openrosa.media_add(domain="demo", form_id="nothing", name="logo.png", content=b"x")


def test_the_command_adds_a_form_and_its_media(field: Any, tmp_path: Any, capsys: Any) -> None:
    (tmp_path / "site.md").write_text(IMAGES, encoding="utf-8")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    call_command(
        "openrosa_xlsform", "demo", str(tmp_path / "site.md"), "--media", str(tmp_path / "logo.png")
    )
    assert "formList: /a/demo/formList" in capsys.readouterr().out
    assert XForm.objects.get(form_id="site_photo").media.get().content_type == "image/png"
    (tmp_path / "bad.md").write_text("| survey |\n| | type | name |\n| | nonsense | q |\n")
    with pytest.raises(CommandError, match=r"bad\.md"):
        call_command("openrosa_xlsform", "demo", str(tmp_path / "bad.md"))


def test_the_admin_adds_a_form_by_upload(field: Any, admin_client: Client) -> None:
    page = admin_client.get("/admin/trellis_openrosa/xform/add/")
    assert page.status_code == 200
    from trellis.forms.models import Domain

    response = admin_client.post(
        "/admin/trellis_openrosa/xform/add/",
        {
            "domain": Domain.objects.get(name="demo").pk,
            "xlsform": SimpleUploadedFile("site.md", IMAGES.encode()),
        },
    )
    assert response.status_code == 302, response.content
    assert XForm.objects.filter(form_id="site_photo").exists()
    bad = admin_client.post(
        "/admin/trellis_openrosa/xform/add/",
        {
            "domain": Domain.objects.get(name="demo").pk,
            "xlsform": SimpleUploadedFile(
                "x.md", b"| survey |\n| | type | name |\n| | bogus | q |\n"
            ),
        },
    )
    assert bad.status_code == 200
    assert b"errorlist" in bad.content


def test_form_list_shows_the_latest_version_unless_all_are_asked_for(field: Any) -> None:
    changed = SIMPLE.replace("| 1       | Household visit |", "| 2       | Household visit |")
    openrosa.xlsform_add(domain="demo", content=changed.encode(), filename="h.md")
    basic = "Basic " + base64.b64encode(f"ada:{PASSWORD}".encode()).decode()
    listed = Client().get(
        "/a/demo/formList", HTTP_AUTHORIZATION=basic, HTTP_X_OPENROSA_VERSION="1.0"
    )
    assert listed.content.count(b"<xform>") == 1 and b"<version>2</version>" in listed.content
    one = Client().get(
        "/a/demo/formList?formID=household_visit",
        HTTP_AUTHORIZATION=basic,
        HTTP_X_OPENROSA_VERSION="1.0",
    )
    assert one.content.count(b"<xform>") == 1
    every = Client().get(
        "/a/demo/formList?formID=household_visit&listAllVersions=true",
        HTTP_AUTHORIZATION=basic,
        HTTP_X_OPENROSA_VERSION="1.0",
    )
    assert every.content.count(b"<xform>") == 2
