"""The submission both receivers get in benchmark area ``forms`` (and ``reports``' load).

One form, ``household_visit``: a ~1 KiB JSON body (``{"form", "id", "data"}``) whose data has
a nested object, an array of member objects and a free-text note, validated by a JSON Schema
with types, ``required``, ``enum``, ``minimum``/``maximum``, ``maxLength``, ``pattern`` and
``format``; one case block: the ``household`` case named by ``data.household_id`` is created or
updated with four properties.
"""

from __future__ import annotations

import json
from typing import Any

DOMAIN = "bench"
FORM = "household_visit"
USERNAME = "bench-device"
VILLAGES = [f"village-{i:02d}" for i in range(20)]

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["household_id", "village", "household_size", "visit_date", "head_name"],
    "additionalProperties": False,
    "properties": {
        "household_id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"},
        "village": {"type": "string", "minLength": 1, "maxLength": 64},
        "household_size": {"type": "integer", "minimum": 1, "maximum": 50},
        "visit_date": {"type": "string", "format": "date"},
        "head_name": {"type": "string", "maxLength": 100},
        "phone": {"type": "string", "pattern": "^\\+[0-9]{8,15}$"},
        "gps": {
            "type": "object",
            "required": ["lat", "lon"],
            "properties": {
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
                "accuracy": {"type": "number", "minimum": 0},
            },
        },
        "water_source": {"enum": ["borehole", "piped", "river", "rain", "other"]},
        "has_latrine": {"type": "boolean"},
        "members": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["name", "age"],
                "properties": {
                    "name": {"type": "string", "maxLength": 100},
                    "age": {"type": "integer", "minimum": 0, "maximum": 130},
                    "sex": {"enum": ["f", "m", "x"]},
                    "vaccinated": {"type": "boolean"},
                },
            },
        },
        "notes": {"type": "string", "maxLength": 2000},
    },
}

# The case block, in trellis-forms' case-rule format (JSON pointers into the data); the
# baseline reads the same rule.
CASE_RULE: dict[str, Any] = {
    "case_type": "household",
    "case_id": "/household_id",
    "action": "upsert",
    "properties": {
        "head_name": "/head_name",
        "village": "/village",
        "household_size": "/household_size",
        "last_visit": "/visit_date",
    },
}


def data(case_id: str, village: str, size: int) -> dict[str, Any]:
    """One submission's data (the whole body is ~1 KiB of JSON)."""
    return {
        "household_id": case_id,
        "village": village,
        "household_size": size,
        "visit_date": "2026-11-02",
        "head_name": "Amina Wanjiru Otieno",
        "phone": "+254712345678",
        "gps": {"lat": -1.28638, "lon": 36.81723, "accuracy": 4.5},
        "water_source": "borehole",
        "has_latrine": True,
        "members": [
            {"name": "Amina Wanjiru Otieno", "age": 41, "sex": "f", "vaccinated": True},
            {"name": "Joseph Otieno", "age": 44, "sex": "m", "vaccinated": True},
            {"name": "Grace Akinyi", "age": 12, "sex": "f", "vaccinated": True},
            {"name": "Peter Ouma", "age": 7, "sex": "m", "vaccinated": False},
        ],
        "notes": (
            "Household visited in the morning; the head of household answered every question. "
            "Water is fetched from the borehole about 400 m away; the family asked about the "
            "next vaccination day for the youngest child and about the school feeding program. "
            "Follow-up agreed for next month; the latrine needs a new slab before the rains."
        ),
    }


def body(submission_id: str, case_id: str, village: str, size: int) -> bytes:
    return json.dumps(
        {"form": FORM, "id": submission_id, "data": data(case_id, village, size)},
        separators=(",", ":"),
    ).encode()


def lua_template() -> str:
    """The body as a Lua ``string.format`` template: id, case id, village, size (``%s``/``%d``)."""
    text = body("@ID@", "@CASE@", "@VILLAGE@", 77777).decode()
    assert "%" not in text
    return (
        text.replace("@ID@", "%s")
        .replace("@CASE@", "%s")
        .replace("@VILLAGE@", "%s")
        .replace("77777", "%d")
    )
