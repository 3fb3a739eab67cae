"""XLSForm conversion and XML instance → JSON data (trellis.openrosa._xlsform)."""

from __future__ import annotations

import base64
import io
import json
import math
import zipfile
from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as DefusedET
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pyxform.xls2json_backends import md_table_to_workbook

from trellis.forms._definitions import RULES_SCHEMA, validate_data, validate_definition
from trellis.openrosa._xlsform import (
    Converted,
    Field,
    InstanceError,
    XLSFormError,
    convert,
    instance_to_data,
)

NS = 'xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms"'

SIMPLE = """
| survey |
|        | type                  | name    | label      |
|        | text                  | name    | Name       |
|        | integer               | age     | Age        |
|        | decimal               | weight  | Weight     |
|        | select_one yn         | ok      | OK?        |
|        | select_multiple fruit | fruits  | Fruits     |
|        | date                  | dob     | Born       |
|        | dateTime              | seen_at | Seen       |
|        | note                  | thanks  | Thank you  |
| choices |
|         | list_name | name  | label |
|         | yn        | yes   | Yes   |
|         | yn        | no    | No    |
|         | fruit     | apple | Apple |
|         | fruit     | pear  | Pear  |
| settings |
|          | form_id | version    | form_title  |
|          | simple  | 2026120701 | Simple form |
"""

HOUSEHOLD = """
| survey |
|        | type                      | name     | label      | media::image |
|        | image                     | house    | House      |              |
|        | begin group               | address  | Address    |              |
|        | text                      | village  | Village    |              |
|        | end group                 |          |            |              |
|        | begin repeat              | members  | Members    |              |
|        | text                      | mname    | Name       | person.png   |
|        | image                     | photo    | Photo      |              |
|        | begin group               | health   | Health     |              |
|        | integer                   | age      | Age        |              |
|        | end group                 |          |            |              |
|        | end repeat                |          |            |              |
|        | select_one_from_file v.csv | district | District  |              |
| settings |
|          | form_id   | version |
|          | household | 3       |
"""

CREATE = """
| survey |
|        | type    | name    | label   | save_to  |
|        | text    | tree    | Species | species  |
|        | integer | height  | Height  | height_m |
|        | text    | comment | Comment |          |
| entities |
|          | list_name | label   | create_if       |
|          | trees     | ${tree} | ${height} > 0   |
| settings |
|          | form_id     |
|          | tree_create |
"""

UPDATE = """
| survey |
|        | type                       | name    | label  | save_to  |
|        | select_one_from_file trees.csv | tree | Tree  |          |
|        | integer                    | height  | Height | height_m |
| entities |
|          | list_name | entity_id | update_if      |
|          | trees     | ${tree}   | ${height} > 0  |
| settings |
|          | form_id     |
|          | tree_update |
"""


def _md(text: str, name: str = "form.md") -> Converted:
    return convert(text.encode(), filename=name)


def _xml(text: str) -> Any:
    return DefusedET.fromstring(text.encode())


def _check_schema(converted: Converted, data: dict[str, Any]) -> None:
    """The definition is one trellis-forms accepts and ``data`` validates against it."""
    rules = converted.case_rules
    if "when" not in RULES_SCHEMA["items"]["properties"]:  # until trellis-forms has "when"
        rules = [{k: v for k, v in r.items() if k != "when"} for r in rules]
    validate_definition(schema=converted.schema, case_rules=rules, title=converted.title)
    Draft202012Validator.check_schema(converted.schema)
    errors = list(Draft202012Validator(converted.schema).iter_errors(data))
    assert errors == []
    assert validate_data(converted.schema, data) == []  # formats checked as forms does
    json.dumps(data, allow_nan=False)


def test_simple_form() -> None:
    converted = _md(SIMPLE)
    assert (converted.form_id, converted.version, converted.title) == (
        "simple",
        "2026120701",
        "Simple form",
    )
    assert converted.root == "data"
    assert 'id="simple"' in converted.xml
    assert converted.encrypted is False
    assert converted.case_rules == []
    assert converted.binary_fields == ()
    assert converted.media == ()
    assert [(f.name, f.kind) for f in converted.fields.children] == [
        ("name", "text"),
        ("age", "integer"),
        ("weight", "decimal"),
        ("ok", "select_one"),
        ("fruits", "select_multiple"),
        ("dob", "date"),
        ("seen_at", "dateTime"),
        ("thanks", "note"),
        ("meta", "group"),
    ]
    props = converted.schema["properties"]
    assert props["age"] == {"type": "integer"}
    assert props["weight"] == {"type": "number"}
    assert props["ok"] == {"type": "string", "enum": ["yes", "no"]}
    assert props["fruits"] == {
        "type": "array",
        "items": {"type": "string", "enum": ["apple", "pear"]},
    }
    assert props["dob"] == {"type": "string", "format": "date"}
    assert props["seen_at"] == {"type": "string", "format": "date-time"}
    assert "thanks" not in props
    assert "required" not in json.dumps(converted.schema)

    submission = f"""<?xml version='1.0' ?>
<data {NS} id="simple" version="2026120701"><name>Ada Lovelace</name><age>36</age>
<weight>61.5</weight><ok>yes</ok><fruits>apple pear</fruits><dob>1815-12-10</dob>
<seen_at>2026-12-07T10:00:00.000+01:00</seen_at><thanks/>
<meta><instanceID>uuid:6b1e2a40-94f5-4c4a-9d3c-3b4a0fd0a001</instanceID></meta></data>"""
    data = instance_to_data(_xml(submission), converted.fields)
    assert data == {
        "name": "Ada Lovelace",
        "age": 36,
        "weight": 61.5,
        "ok": "yes",
        "fruits": ["apple", "pear"],
        "dob": "1815-12-10",
        "seen_at": "2026-12-07T10:00:00.000+01:00",
        "meta": {"instanceID": "uuid:6b1e2a40-94f5-4c4a-9d3c-3b4a0fd0a001"},
    }
    _check_schema(converted, data)

    # Skipped questions (empty elements), orx-namespaced meta, undeclared elements.
    skipped = f"""<data {NS} id="simple" version="2026120701"><name/><age></age><weight>3</weight>
<fruits></fruits><extra>kept</extra><odd><a>1</a><a>2</a></odd>
<orx:meta><orx:instanceID>uuid:2</orx:instanceID><orx:deprecatedID>uuid:1</orx:deprecatedID>
</orx:meta></data>"""
    data = instance_to_data(_xml(skipped), converted.fields)
    assert data == {
        "weight": 3,
        "extra": "kept",
        "odd": {"a": ["1", "2"]},
        "meta": {"instanceID": "uuid:2", "deprecatedID": "uuid:1"},
    }
    _check_schema(converted, data)


def test_groups_repeats_and_images() -> None:
    converted = _md(HOUSEHOLD)
    assert converted.form_id == "household"
    assert converted.version == "3"
    assert converted.title == "household"  # no form_title: pyxform uses the form id
    assert converted.binary_fields == ("/house", "/members/*/photo")
    assert converted.media == ("person.png", "v.csv")
    members = converted.fields.child("members")
    assert members is not None
    assert members.as_dict() == {
        "name": "members",
        "kind": "repeat",
        "children": [
            {"name": "mname", "kind": "text"},
            {"name": "photo", "kind": "binary"},
            {"name": "health", "kind": "group", "children": [{"name": "age", "kind": "integer"}]},
        ],
    }
    assert converted.schema["properties"]["district"] == {"type": "string"}  # from a file
    assert converted.schema["properties"]["members"]["type"] == "array"

    submission = f"""<data {NS} id="household" version="3">
  <house>1733570000000.jpg</house>
  <address><village>Kibera</village></address>
  <members jr:template=""><mname>template</mname></members>
  <members><mname>Ann</mname><photo>1733570000001.jpg</photo><health><age>40</age></health></members>
  <members><mname>Bo</mname><photo/><health><age/></health></members>
  <district>nairobi</district>
  <meta><instanceID>uuid:h1</instanceID><instanceName>Kibera</instanceName></meta>
</data>"""
    data = instance_to_data(_xml(submission), converted.fields)
    assert data == {
        "house": "1733570000000.jpg",
        "address": {"village": "Kibera"},
        "members": [
            {"mname": "Ann", "photo": "1733570000001.jpg", "health": {"age": 40}},
            {"mname": "Bo", "health": {}},
        ],
        "district": "nairobi",
        "meta": {"instanceID": "uuid:h1", "instanceName": "Kibera"},
    }
    _check_schema(converted, data)

    bad = submission.replace("<age>40</age>", "<age>forty</age>")
    with pytest.raises(InstanceError) as info:
        instance_to_data(_xml(bad), converted.fields)
    assert info.value.path == "/members/0/health/age"
    assert str(info.value) == "/members/0/health/age: 'forty' is not an integer"


def test_xlsx_and_file_stem_form_id() -> None:
    book = md_table_to_workbook(SIMPLE.replace("| simple  |", "|         |"))
    buffer = io.BytesIO()
    book.save(buffer)
    converted = convert(buffer.getvalue(), filename="uploads/visit_v2.XLSX")
    assert converted.form_id == "visit_v2"
    assert converted.version == "2026120701"
    assert converted.fields.child("fruits") == Field("fruits", "select_multiple")


def _public_key() -> str:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:  # pragma: no cover
        pytest.skip("cryptography is not installed")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def test_encrypted_form() -> None:
    key = _public_key()
    md = SIMPLE.replace(
        "| form_id | version    | form_title  |",
        "| form_id | version    | form_title  | public_key |",
    ).replace(
        "| simple  | 2026120701 | Simple form |", f"| simple  | 2026120701 | Simple | {key} |"
    )
    converted = _md(md)
    assert converted.encrypted is True
    assert f'base64RsaPublicKey="{key}"' in converted.xml
    assert set(converted.schema["properties"]) == {
        "meta",
        "base64EncryptedKey",
        "encryptedXmlFile",
        "media",
        "base64EncryptedElementSignature",
    }
    assert converted.binary_fields == ("/encryptedXmlFile", "/media/*")
    envelope = """<data id="simple" version="2026120701" encrypted="yes"
 xmlns="http://opendatakit.org/submissions" xmlns:orx="http://openrosa.org/xforms">
<base64EncryptedKey>a2V5</base64EncryptedKey>
<orx:meta><orx:instanceID>uuid:e1</orx:instanceID></orx:meta>
<media><file>1733570000000.jpg.enc</file></media>
<media><file>1733570000001.jpg.enc</file></media>
<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>
<base64EncryptedElementSignature>c2ln</base64EncryptedElementSignature>
</data>"""
    data = instance_to_data(_xml(envelope), converted.fields, encrypted=True)
    assert data == {
        "base64EncryptedKey": "a2V5",
        "meta": {"instanceID": "uuid:e1"},
        "media": ["1733570000000.jpg.enc", "1733570000001.jpg.enc"],
        "encryptedXmlFile": "submission.xml.enc",
        "base64EncryptedElementSignature": "c2ln",
    }
    _check_schema(converted, data)


def test_entities_create() -> None:
    converted = _md(CREATE)
    assert converted.case_rules == [
        {
            "case_type": "trees",
            "case_id": "/meta/entity/id",
            "action": "create",
            "properties": {
                "label": "/meta/entity/label",
                "species": "/tree",
                "height_m": "/height",
            },
            "when": "/meta/entity/create",
        }
    ]
    entity = converted.schema["properties"]["meta"]["properties"]["entity"]
    assert set(entity["properties"]) >= {"dataset", "id", "create", "update", "label"}
    # What Collect sends: the entity block in meta, attributes and a label child.
    submission = f"""<data {NS} id="tree_create"><tree>Baobab</tree><height>12</height>
<comment/><meta><instanceID>uuid:c1</instanceID>
<entity dataset="trees" create="true" id="0b6f1d4e-7f6a-4c1e-9f43-7d1f3c2a9b10">
<label>Baobab</label></entity></meta></data>"""
    data = instance_to_data(_xml(submission), converted.fields)
    assert data == {
        "tree": "Baobab",
        "height": 12,
        "meta": {
            "instanceID": "uuid:c1",
            "entity": {
                "dataset": "trees",
                "create": "true",
                "id": "0b6f1d4e-7f6a-4c1e-9f43-7d1f3c2a9b10",
                "label": "Baobab",
            },
        },
    }
    _check_schema(converted, data)


def test_entities_update() -> None:
    converted = _md(UPDATE)
    assert converted.case_rules == [
        {
            "case_type": "trees",
            "case_id": "/meta/entity/id",
            "action": "update",
            "properties": {"label": "/meta/entity/label", "height_m": "/height"},
            "when": "/meta/entity/update",
        }
    ]
    assert converted.media == ("trees.csv",)
    submission = f"""<data {NS} id="tree_update"><tree>t1</tree><height>13</height>
<meta><instanceID>uuid:u1</instanceID><entity dataset="trees" id="t1" update="1"
 baseVersion="2" trunkVersion="" branchId=""/></meta></data>"""
    data = instance_to_data(_xml(submission), converted.fields)
    assert data["meta"]["entity"] == {
        "dataset": "trees",
        "id": "t1",
        "update": "1",
        "baseVersion": "2",
    }
    _check_schema(converted, data)


def test_entities_upsert_and_unconditional() -> None:
    md = CREATE.replace("| list_name | label   | create_if       |", "| list_name | label |")
    md = md.replace("| trees     | ${tree} | ${height} > 0   |", "| trees | ${tree} |")
    assert _md(md).case_rules[0]["action"] == "create"
    assert "when" not in _md(md).case_rules[0]
    upsert = UPDATE.replace("| update_if      |", "| update_if | create_if |").replace(
        "| ${height} > 0  |", "| ${height} > 0 | ${height} > 1 |"
    )
    rule = _md(upsert).case_rules[0]
    assert rule["action"] == "upsert"
    assert "when" not in rule


def test_entity_names_must_be_identifiers() -> None:
    with pytest.raises(XLSFormError, match="list_name 'Trees'"):
        _md(CREATE.replace("| trees     |", "| Trees     |"))
    with pytest.raises(XLSFormError, match="save_to name 'height-m'"):
        _md(CREATE.replace("height_m |", "height-m |"))


def test_entity_in_repeat_is_refused() -> None:
    md = """
| survey |
| | type | name | label | save_to |
| | begin repeat | r | R | |
| | text | b | B | kind |
| | end repeat | | | |
| entities |
| | list_name | label |
| | plants | ${b} |
"""
    with pytest.raises(XLSFormError, match="inside a repeat"):
        _md(md)


def test_field_json_round_trip() -> None:
    converted = _md(HOUSEHOLD)
    stored = json.loads(json.dumps(converted.fields.as_dict()))
    assert Field.from_dict(stored) == converted.fields
    with pytest.raises(ValueError, match="name"):
        Field.from_dict({"kind": "text"})


# --- bad input ------------------------------------------------------------------------------


def test_unsupported_suffix() -> None:
    with pytest.raises(XLSFormError, match=r"\.xlsx or \.md"):
        convert(b"a,b", filename="form.csv")


def test_not_a_spreadsheet() -> None:
    with pytest.raises(XLSFormError, match=r"not an \.xlsx") as info:
        convert(b"%PDF-1.4 not a zip", filename="form.xlsx")
    assert info.value.errors == [info.value.message]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(XLSFormError, match=r"not an \.xlsx"):
        convert(buffer.getvalue(), filename="form.xlsx")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "garbage")
    with pytest.raises(XLSFormError, match="could not be read as an Excel workbook"):
        convert(buffer.getvalue(), filename="form.xlsx")
    with pytest.raises(XLSFormError, match="could not be read as Markdown tables"):
        convert(b"just words, no tables", filename="form.md")
    with pytest.raises(XLSFormError, match="UTF-8"):
        convert(b"| survey |\xff\xfe", filename="form.md")


def test_pyxform_error_is_reported() -> None:
    md = """
| survey |
|        | type      | name | label |
|        | calculate | c    |       |
"""
    with pytest.raises(XLSFormError) as info:
        _md(md)
    assert info.value.errors == ["[row : 2] Missing calculation."]
    assert info.value.message == "[row : 2] Missing calculation."


@pytest.mark.parametrize("form_id", ["Simple", "1simple", "simple-form", "x" * 64])
def test_bad_form_id(form_id: str) -> None:
    with pytest.raises(XLSFormError, match="form_id"):
        _md(SIMPLE.replace("| simple  |", f"| {form_id} |"))


def test_bad_file_stem_as_form_id() -> None:
    md = SIMPLE.replace("| simple  |", "|         |")
    with pytest.raises(XLSFormError, match=r"'My Form'.*form_id"):
        convert(md.encode(), filename="My Form.md")


def test_too_large() -> None:
    with pytest.raises(XLSFormError, match="over the limit"):
        convert(b"|" * (10 * 1024 * 1024 + 1), filename="form.md")


def test_zip_bomb_is_refused_before_reading() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (51 * 1024 * 1024))
    content = buffer.getvalue()
    assert len(content) < 1024 * 1024
    with pytest.raises(XLSFormError, match="unpacks to"):
        convert(content, filename="form.xlsx")


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ("<age>x</age>", "/age: 'x' is not an integer"),
        ("<age>1.5</age>", "/age: '1.5' is not an integer"),
        ("<weight>NaN</weight>", "/weight: 'NaN' is not a finite decimal number"),
        ("<weight>1e999</weight>", "/weight: '1e999' is not a finite decimal number"),
        ("<weight>inf</weight>", "/weight: 'inf' is not a finite decimal number"),
        ("<age>1</age><age>2</age>", "/age: sent more than once"),
        ("<age><x>1</x></age>", "/age: has elements where a value was expected"),
    ],
)
def test_bad_values(element: str, message: str) -> None:
    converted = _md(SIMPLE)
    with pytest.raises(InstanceError) as info:
        instance_to_data(_xml(f"<data {NS}>{element}</data>"), converted.fields)
    assert str(info.value) == message


# --- round trip -----------------------------------------------------------------------------

FIELDS = Field(
    "data",
    "group",
    (
        Field("n", "integer"),
        Field("d", "decimal"),
        Field("s", "text"),
        Field("m", "select_multiple"),
        Field("r", "repeat", (Field("n", "integer"),)),
    ),
)
_XML_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Cn"]) | st.sampled_from("\t\n"),
    min_size=1,
)
_WORD = st.from_regex(r"[a-z0-9_]{1,10}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(),
    d=st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**20), 10**20),
    s=_XML_TEXT,
    m=st.lists(_WORD, min_size=1, max_size=5),
    r=st.lists(st.integers(-(10**20), 10**20), max_size=4),
)
def test_leaves_round_trip(n: int, d: float, s: str, m: list[str], r: list[int]) -> None:
    repeats = "".join(f"<r><n>{v}</n></r>" for v in r)
    xml = f"<data {NS}><n>{n}</n><d>{d!r}</d><s>{escape(s)}</s><m>{' '.join(m)}</m>{repeats}</data>"
    data = instance_to_data(_xml(xml), FIELDS)
    expected: dict[str, Any] = {"n": n, "d": d, "s": s, "m": m}
    if r:
        expected["r"] = [{"n": v} for v in r]
    assert data == expected
    assert isinstance(data["d"], int) == isinstance(d, int)
    assert math.isfinite(data["d"])
