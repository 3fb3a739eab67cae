"""The submission of benchmark area ``openrosa``, as OpenRosa XML and as the JSON envelope.

One XLSForm, ``household_photo`` (pyxform's Markdown tables, added once through
``trellis.openrosa.xlsform_add``, which also defines the trellis-forms form of that name, so
both receivers validate against the same JSON Schema): text, integer, decimal, date,
geopoint, select_one, select_multiple, a repeat of members, a long free-text note and one
``image`` question. The instance XML is ~2 KiB; the JSON data is the same content (what the
OpenRosa receiver turns the XML into, ``meta/instanceID`` included: the seed checks it with
the package's own converter). Both requests carry the same ~100 KiB image as a file part.

Variant ``json_xml`` (a control) sends the JSON receiver the XML too, as a file part before the
image: the same two files the OpenRosa receiver stores (it keeps the XML as an attachment).

Bodies are built from templates with placeholders (submission id, village, household size)
so the ``wrk`` Lua script and the Python client build byte-identical requests.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any
from xml.sax.saxutils import escape

DOMAIN = "bench"
FORM = "household_photo"
VERSION = "1"
USERNAME = "bench-collect"
PASSWORD = "bench collect password"  # a throwaway benchmark user
VILLAGES = [f"village-{i:02d}" for i in range(20)]
IMAGE_NAME = "house.jpg"
IMAGE_TYPE = "image/jpeg"
IMAGE_BYTES = 100 * 1024
BOUNDARY = "----trellis-bench-openrosa-7d1c4e0a9b2f"
XML_PART = "xml_submission_file"
XML_COPY = "submission.xml"

XLSFORM = f"""
| survey |
|        | type                   | name              | label                  |
|        | text                   | household_id      | Household ID           |
|        | text                   | village           | Village                |
|        | integer                | household_size    | People                 |
|        | date                   | visit_date        | Visit date             |
|        | text                   | head_name         | Head of household      |
|        | text                   | phone             | Phone                  |
|        | geopoint               | gps               | Location               |
|        | select_one water       | water_source      | Water source           |
|        | select_one yn          | has_latrine       | Latrine?               |
|        | select_multiple assets | assets            | Assets                 |
|        | decimal                | water_distance_km | Distance to water (km) |
|        | begin repeat           | members           | Members                |
|        | text                   | member_name       | Name                   |
|        | integer                | age               | Age                    |
|        | select_one sex         | sex               | Sex                    |
|        | select_one yn          | vaccinated        | Vaccinated?            |
|        | end repeat             |                   |                        |
|        | text                   | notes             | Notes                  |
|        | image                  | photo             | Photo of the house     |
| choices |
|         | list_name | name      | label     |
|         | water     | borehole  | Borehole  |
|         | water     | piped     | Piped     |
|         | water     | river     | River     |
|         | water     | rain      | Rain      |
|         | water     | other     | Other     |
|         | yn        | yes       | Yes       |
|         | yn        | no        | No        |
|         | assets    | radio     | Radio     |
|         | assets    | phone     | Phone     |
|         | assets    | bicycle   | Bicycle   |
|         | assets    | solar     | Solar     |
|         | assets    | livestock | Livestock |
|         | sex       | f         | Female    |
|         | sex       | m         | Male      |
|         | sex       | x         | Other     |
| settings |
|          | form_id | version   | form_title            |
|          | {FORM}  | {VERSION} | Household photo visit |
"""

_ID, _VILLAGE, _SIZE = "@ID@", "@VILLAGE@", "77777"


def data(instance_id: str, village: str, size: int) -> dict[str, Any]:
    """One submission's data, as the OpenRosa receiver reads it from the XML."""
    return {
        "household_id": "hh-0042",
        "village": village,
        "household_size": size,
        "visit_date": "2026-11-02",
        "head_name": "Amina Wanjiru Otieno",
        "phone": "+254712345678",
        "gps": "-1.28638 36.81723 1661.2 4.5",
        "water_source": "borehole",
        "has_latrine": "yes",
        "assets": ["radio", "phone", "bicycle", "solar"],
        "water_distance_km": 0.4,
        "members": [
            {"member_name": "Amina Wanjiru Otieno", "age": 41, "sex": "f", "vaccinated": "yes"},
            {"member_name": "Joseph Otieno Ouma", "age": 44, "sex": "m", "vaccinated": "yes"},
            {"member_name": "Grace Akinyi Otieno", "age": 12, "sex": "f", "vaccinated": "yes"},
            {"member_name": "Peter Ouma Otieno", "age": 7, "sex": "m", "vaccinated": "no"},
            {"member_name": "Mercy Atieno Otieno", "age": 3, "sex": "f", "vaccinated": "no"},
            {"member_name": "Daniel Omondi Ouma", "age": 68, "sex": "m", "vaccinated": "yes"},
        ],
        "notes": (
            "Household visited in the morning; the head of household answered every question. "
            "Water is fetched from the borehole about 400 m away; the family asked about the "
            "next vaccination day for the youngest children and about the school feeding "
            "program. Follow-up agreed for next month; the latrine needs a new slab before the "
            "rains. The house has a corrugated iron roof and mud walls, two rooms and a kitchen "
            "outside; the photo shows the front of the house and the water tank beside it. "
            "The neighbours share the borehole; the committee collects a small fee every month. "
            "The grandfather lives with the family since last year and walks with a stick."
        ),
        "photo": IMAGE_NAME,
        "meta": {"instanceID": instance_id},
    }


def _xml_of(value: dict[str, Any]) -> str:
    out = []
    for name, item in value.items():
        if isinstance(item, dict):
            out.append(f"<{name}>{_xml_of(item)}</{name}>")
        elif isinstance(item, list) and item and isinstance(item[0], dict):
            out.extend(f"<{name}>{_xml_of(member)}</{name}>" for member in item)
        elif isinstance(item, list):
            out.append(f"<{name}>{escape(' '.join(item))}</{name}>")
        else:
            out.append(f"<{name}>{escape(str(item))}</{name}>")
    return "".join(out)


def xml(instance_id: str, village: str, size: int) -> bytes:
    """The instance XML as ODK Collect writes it (``meta`` last)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<data xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{FORM}" version="{VERSION}">'
        f"{_xml_of(data(instance_id, village, size))}</data>"
    ).encode()


def envelope(instance_id: str, village: str, size: int) -> bytes:
    """The JSON receiver's ``submission`` part: ``{"form", "id", "data"}``, the same data."""
    return json.dumps(
        {"form": FORM, "id": instance_id, "data": data(instance_id, village, size)},
        separators=(",", ":"),
    ).encode()


def image() -> bytes:
    """~100 KiB that look like a JPEG (SOI ... EOI), the same every run."""
    middle = random.Random(20261102).randbytes(IMAGE_BYTES - 4)  # not a secret
    content = b"\xff\xd8" + middle + b"\xff\xd9"
    assert BOUNDARY.encode() not in content
    return content


def _part_head(name: str, content_type: str, filename: str | None = None) -> str:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return (
        f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
        f"Content-Type: {content_type}\r\n\r\n"
    )


def _head(variant: str) -> str:
    if variant == "openrosa":
        return _part_head(XML_PART, "text/xml", "submission.xml")
    return _part_head("submission", "application/json")


def tail_head() -> str:
    """Between the first part's content and the image's bytes."""
    return "\r\n" + _part_head(IMAGE_NAME, IMAGE_TYPE, IMAGE_NAME)


CLOSE = f"\r\n--{BOUNDARY}--\r\n"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def first_part(variant: str, instance_id: str, village: str, size: int) -> bytes:
    """The XML (``openrosa``), the JSON envelope (``json``), or the JSON envelope and then
    the XML as a file part named ``submission.xml`` (``json_xml``: the JSON receiver storing
    the same two files the OpenRosa receiver stores, in the same order)."""
    if variant == "openrosa":
        return xml(instance_id, village, size)
    if variant == "json_xml":
        return (
            envelope(instance_id, village, size)
            + ("\r\n" + _part_head(XML_COPY, "text/xml", XML_COPY)).encode()
            + xml(instance_id, village, size)
        )
    return envelope(instance_id, village, size)


def body(variant: str, instance_id: str, village: str, size: int, picture: bytes) -> bytes:
    """A whole multipart request body of ``variant``."""
    return (
        _head(variant).encode()
        + first_part(variant, instance_id, village, size)
        + tail_head().encode()
        + picture
        + CLOSE.encode()
    )


def headers(variant: str) -> dict[str, str]:
    """Headers besides ``Authorization`` (and ``Content-Length``)."""
    found = {"Content-Type": CONTENT_TYPE}
    if variant == "openrosa":
        found["X-OpenRosa-Version"] = "1.0"
    return found


def path(variant: str) -> str:
    return f"/a/{DOMAIN}/submission" if variant == "openrosa" else f"/a/{DOMAIN}/receiver/"


def lua_template(variant: str) -> tuple[str, list[str]]:
    """The first part's head and content as a Lua ``string.format`` template, and the names
    (``sid``, ``village``, ``size``) of its arguments in the order they occur."""
    text = _head(variant) + first_part(variant, "uuid:" + _ID, _VILLAGE, int(_SIZE)).decode()
    assert "%" not in text
    names = {_ID: "sid", _VILLAGE: "village", _SIZE: "size"}
    order = [names[m] for m in re.findall(f"{_ID}|{_VILLAGE}|{_SIZE}", text)]
    template = text.replace(_ID, "%s").replace(_VILLAGE, "%s").replace(_SIZE, "%d")
    return template, order
