"""``remotable`` marks provider hookspecs; ``request_id()`` follows the request being served."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from trellis.core import hookspec, remotable, remote_options, request_id
from trellis.core.django import EdgeMiddleware


def test_remotable_marks_a_hookspec_and_says_whether_it_is_safe() -> None:
    @remotable(safe=True)
    @hookspec(firstresult=True)
    def shop_price(sku: str) -> int:
        """."""

    @remotable()
    @hookspec(firstresult=True)
    def shop_buy(sku: str) -> int:
        """."""

    @hookspec(firstresult=True)
    def shop_local(sku: str) -> int:
        """."""

    assert remote_options(shop_price) == {"safe": True}
    assert remote_options(shop_buy) == {"safe": False}
    assert remote_options(shop_local) is None
    assert shop_price.trellis_spec["firstresult"] is True  # type: ignore[attr-defined]


def test_the_request_id_is_known_while_a_request_is_served_and_only_then() -> None:
    seen: list[str | None] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request_id())
        return HttpResponse("ok")

    middleware = EdgeMiddleware(view)
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="from-the-caller-7")
    response = middleware(request)
    assert seen == ["from-the-caller-7"]
    assert response["X-Request-ID"] == "from-the-caller-7"
    assert request_id() is None
    middleware(RequestFactory().get("/"))
    assert seen[1] is not None and seen[1] != "from-the-caller-7"
    assert request_id() is None
