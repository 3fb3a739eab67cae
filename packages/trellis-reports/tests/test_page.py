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


SERIES_ROWS = [  # as report_query gives them: sorted by the group columns (village, week)
    {"village": "north", "week": "2026-11-09", "visits": 3},
    {"village": "north", "week": "2026-11-16", "visits": 5},
    {"village": "south", "week": "2026-11-02", "visits": 1},
    {"village": "south", "week": "2026-11-16", "visits": 2},
    {"village": "<b>east</b>", "week": "2026-11-09", "visits": 4},
]


def test_a_series_chart_draws_a_line_per_series_over_the_ordered_x_values() -> None:
    from trellis.reports._chart import render_chart

    svg = render_chart(SERIES_ROWS, kind="line", x="week", y="visits", title="t", series="village")
    parser = Elements()
    parser.feed(svg)
    lines = {a["data-series"]: a["points"] for t, a in parser.found if t == "polyline"}
    assert set(lines) == {"north", "south", "<b>east</b>"}
    assert "<b>" not in svg, "series names are escaped"
    x_of = {}
    for t, a in parser.found:
        if t == "circle":
            x_of.setdefault(a["data-x"], float(a["cx"] or "nan"))
    # the x slots are the distinct weeks in order, whichever series gave them first
    assert sorted(x_of, key=x_of.__getitem__) == ["2026-11-02", "2026-11-09", "2026-11-16"]
    south = [tuple(map(float, p.split(","))) for p in lines["south"].split()]
    assert [x for x, _ in south] == [x_of["2026-11-02"], x_of["2026-11-16"]]
    points = sorted(
        (a["data-series"], a["data-x"], a["data-y"]) for t, a in parser.found if t == "circle"
    )
    assert points == sorted((r["village"], r["week"], str(r["visits"])) for r in SERIES_ROWS)
    legend = [a["data-series"] for t, a in parser.found if t == "g" and "data-series" in a]
    assert legend == ["north", "south", "<b>east</b>"]


def test_a_series_bar_chart_puts_the_series_side_by_side_in_each_slot() -> None:
    from trellis.reports._chart import render_chart

    parser = Elements()
    parser.feed(
        render_chart(SERIES_ROWS, kind="bar", x="week", y="visits", title="t", series="village")
    )
    bars = [a for t, a in parser.found if t == "rect" and a.get("class") == "bar"]
    assert len(bars) == len(SERIES_ROWS)
    in_slot = sorted(
        (float(b["x"] or "nan"), b["data-series"]) for b in bars if b["data-x"] == "2026-11-16"
    )
    assert [name for _, name in in_slot] == ["north", "south"]  # legend order, left to right
    assert in_slot[0][0] < in_slot[1][0]
    colours = {b["data-series"]: b["fill"] for b in bars}
    assert len(set(colours.values())) == 3


def test_a_legend_with_more_series_than_fit_counts_the_rest() -> None:
    from trellis.reports._chart import render_chart

    rows = [{"v": f"village-{i:02d}", "w": "2026-11-02", "n": i} for i in range(20)]
    svg = render_chart(rows, kind="bar", x="w", y="n", title="t", series="v")
    parser = Elements()
    parser.feed(svg)
    shown = [a for t, a in parser.found if t == "g" and a.get("class") == "legend-item"]
    assert 0 < len(shown) < 20
    assert f"+{20 - len(shown)} more" in svg
