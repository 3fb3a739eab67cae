"""The report page: login, 404 for others, SVG chart and table with the same numbers."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from trellis.reports import report_define

from .conftest import VISITS, FakeForms, payload

pytestmark = pytest.mark.django_db
PAGE = "/reports/demo/visits/"


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[str] = []
        self._in_td = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))
        self._in_td = tag == "td"

    def handle_endtag(self, tag: str) -> None:
        self._in_td = False if tag == "td" else self._in_td

    def handle_data(self, data: str) -> None:
        if self._in_td:
            self.cells.append(data)


@pytest.fixture
def page_data(reports_host: Any, forms: FakeForms) -> None:
    report_define(domain="demo", slug="visits", title="Visits <by> village", **VISITS)
    for n, village in enumerate(["north", "north", "<script>x</script>"]):
        forms.deliver(payload("demo", f"s{n}", {"village": village, "household_size": n}))


def test_anonymous_visitors_are_sent_to_log_in(page_data: None) -> None:
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert "login" in response["Location"] and "next=/reports/demo/visits/" in response["Location"]


def test_non_members_get_404(page_data: None) -> None:
    olaf = User.objects.create_user("olaf")
    client = Client()
    client.force_login(olaf)
    assert client.get(PAGE).status_code == 404
    assert client.get("/reports/demo/nothing/").status_code == 404


def test_the_chart_and_the_table_show_the_same_numbers(page_data: None, forms: FakeForms) -> None:
    mia = User.objects.create_user("mia")
    forms.viewers["demo"] = {"mia"}
    client = Client()
    client.force_login(mia)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "Visits &lt;by&gt; village" in html
    assert not re.search(r"(src|href)=\"https?://", html), "no external assets"
    assert "<script" not in html.replace("&lt;script", "")
    parser = Elements()
    parser.feed(html)
    [svg] = [a for t, a in parser.found if t == "svg"]
    assert svg["id"] == "report-chart"
    bars = [a for t, a in parser.found if t == "rect" and a.get("class") == "bar"]
    assert [(b["data-x"], b["data-y"]) for b in bars] == [
        ("<script>x</script>", "1"),
        ("north", "2"),
    ]
    assert any(a.get("class") == "chart-title" for t, a in parser.found if t == "text")
    labels = [a.get("class") for t, a in parser.found if t == "text"]
    assert "axis-label x-axis-label" in labels and "axis-label y-axis-label" in labels
    [table] = [a for t, a in parser.found if t == "table"]
    assert table["id"] == "report-table"
    assert parser.cells == [
        "<script>x</script>",
        "2026-01-05",
        "1",
        "2",
        "north",
        "2026-01-05",
        "2",
        "0.5",
    ]
    assert "report-needs-rebuild" in html


def test_a_line_chart_has_one_point_per_row(page_data: None, admin_client: Client) -> None:
    """A chart change keeps the numbers (no rebuild needed); staff see every domain."""
    report_define(
        domain="demo",
        slug="visits",
        title="Visits",
        **{**VISITS, "chart": {"type": "line", "x": "village", "y": "avg_size"}},
    )
    parser = Elements()
    parser.feed(admin_client.get(PAGE).content.decode())
    points = [a for t, a in parser.found if t == "circle" and a.get("class") == "point"]
    assert [(p["data-x"], p["data-y"]) for p in points] == [
        ("<script>x</script>", "2"),
        ("north", "0.5"),
    ]
    assert any(t == "polyline" for t, _ in parser.found)
    assert not any(t == "rect" and a.get("class") == "bar" for t, a in parser.found)


def test_the_chart_draws_negative_missing_and_no_values() -> None:
    from decimal import Decimal

    from trellis.reports._chart import render_chart

    empty = render_chart([], kind="bar", x="village", y="visits", title="Nothing yet")
    assert 'id="report-chart"' in empty and 'class="bar"' not in empty
    rows = [{"v": "a", "n": Decimal("-2.5")}, {"v": "b", "n": None}, {"v": "c", "n": 10}]
    parser = Elements()
    parser.feed(render_chart(rows, kind="bar", x="v", y="n", title="t"))
    bars = [a for t, a in parser.found if t == "rect"]
    assert [(b["data-x"], b["data-y"]) for b in bars] == [
        ("a", "-2.5"),
        ("b", ""),
        ("c", "10"),
    ]
    heights = [float(b["height"] or "nan") for b in bars]
    assert heights[0] > 0 and heights[1] == 0 and heights[2] == pytest.approx(4 * heights[0], 0.05)
    tops = [float(b["y"] or "nan") for b in bars]
    assert tops[0] == pytest.approx(tops[2] + heights[2], abs=0.2), "negative bars hang from 0"
