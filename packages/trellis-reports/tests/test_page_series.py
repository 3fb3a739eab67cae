"""A series chart keeps distinct group values apart even when they print alike: ``null`` and
``""``, the number ``1`` and the string ``"1"`` are different series (and x slots)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from trellis.reports import report_define

from .conftest import TOPIC, FakeForms, payload

pytestmark = pytest.mark.django_db
PAGE = "/reports/demo/kinds/"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[tuple[str, str]] = []
        self._class = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))
        self._class = dict(attrs).get("class") or ""

    def handle_data(self, data: str) -> None:
        if self._class:
            self.texts.append((self._class, data))


def define(kind: str, forms: FakeForms, records: list[tuple[Any, Any]]) -> None:
    report_define(
        domain="demo",
        slug="kinds",
        title="Kinds",
        source_topic=TOPIC,
        group_by=[{"field": "data.x", "as": "x"}, {"field": "data.s", "as": "s"}],
        aggregates=[{"fn": "count", "as": "n"}],
        chart={"type": kind, "x": "x", "y": "n", "series": "s"},
    )
    for i, (x, s) in enumerate(records):
        data = {k: v for k, v in (("x", x), ("s", s)) if v is not Ellipsis}
        forms.deliver(payload("demo", f"r{i}", data))


@pytest.mark.parametrize("kind", ["bar", "line"])
def test_null_and_empty_series_are_two_series(
    reports_host: Any, forms: FakeForms, admin_client: Client, kind: str
) -> None:
    define(kind, forms, [("a", ...), ("a", ""), ("a", ""), ("b", 1), ("b", "1")])
    parser = Tags()
    parser.feed(admin_client.get(PAGE).content.decode())
    legend = [a for t, a in parser.found if t == "g" and a.get("class") == "legend-item"]
    assert len(legend) == 4, legend
    marks = [
        a for t, a in parser.found if (t, a.get("class")) in {("rect", "bar"), ("circle", "point")}
    ]
    assert len(marks) == 4
    colours = {(a["data-x"], a["fill"]) for a in marks}
    assert len(colours) == 4, "each series its own colour in a slot"
    if kind == "bar":
        assert len({a["x"] for a in marks}) == 4, "no bar hides another"
    else:
        assert len([t for t, _ in parser.found if t == "polyline"]) == 4


def test_number_and_text_x_values_are_two_slots_and_null_is_labelled(
    reports_host: Any, forms: FakeForms, admin_client: Client
) -> None:
    define("bar", forms, [(1, "s"), ("1", "s"), (..., "s")])
    parser = Tags()
    parser.feed(admin_client.get(PAGE).content.decode())
    bars = [a for t, a in parser.found if t == "rect" and a.get("class") == "bar"]
    assert len({a["x"] for a in bars}) == 3, "three x slots, no bar on top of another"
    labels = [data for cls, data in parser.texts if cls == "x-label"]
    assert labels == ["1", "1", "(none)"]
