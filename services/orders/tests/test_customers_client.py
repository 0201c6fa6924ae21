"""The HTTP fallback's client (no network): what each answer of the customers service means."""

from __future__ import annotations

import json

import httpx
import jwt
import pytest

from services.orders.config import OrdersSettings
from services.orders.customers_client import HttpCustomerDirectory
from shared.config import LOCAL_JWT_SECRET
from shared.http.errors import DependencyUnavailable

CUSTOMER = {"id": "c-1", "kind": "company", "name": "PT Kertas Jaya", "status": "active", "segment": "wholesale",
            "manager_id": "emp-1", "merged_into_id": None, "emails": ["x@example.com"],
            "updated_at": "2026-03-01T10:00:00+07:00"}


def directory(handler: httpx.MockTransport, **settings: object) -> HttpCustomerDirectory:
    return HttpCustomerDirectory(OrdersSettings(customers_url="http://customers.test/", **settings),
                                 transport=handler)


async def test_an_answer_becomes_facts_and_the_request_carries_a_service_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=CUSTOMER)

    facts = await directory(httpx.MockTransport(handler)).lookup("c-1")
    assert facts is not None
    assert (facts.status, facts.name, facts.segment) == ("active", "PT Kertas Jaya", "wholesale")
    assert facts.observed_at.isoformat() == "2026-03-01T03:00:00+00:00"
    request = seen[0]
    assert str(request.url) == "http://customers.test/customers/c-1"
    claims = jwt.decode(request.headers["authorization"].removeprefix("Bearer "), LOCAL_JWT_SECRET,
                        algorithms=["HS256"])
    assert (claims["sub"], claims["roles"]) == ("orders", ["service"])
    assert request.headers["x-request-id"]


async def test_ids_are_escaped_into_the_path() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(404, json={"type": "/problems/not-found", "status": 404, "customer_id": "a:b.c"})

    assert await directory(httpx.MockTransport(handler)).lookup("a:b.c") is None
    assert seen == ["/customers/a%3Ab.c"]


async def test_a_static_token_is_used_when_configured() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer issued-by-the-idp"
        return httpx.Response(200, json=CUSTOMER)

    assert await directory(httpx.MockTransport(handler), customers_token="issued-by-the-idp").lookup("c-1")


@pytest.mark.parametrize("response", [
    httpx.Response(500, json={"title": "boom"}),
    httpx.Response(404, text="Not Found"),  # not the customers API answering: proves nothing
    httpx.Response(404, json={"status": 404, "customer_id": "someone-else"}),
    httpx.Response(401, json={}),
    httpx.Response(403, json={}),
    httpx.Response(302, headers={"location": "http://elsewhere/"}),
    httpx.Response(200, content=b"<html>proxy error</html>"),
    httpx.Response(200, json={**CUSTOMER, "status": "frozen"}),
    httpx.Response(200, json={**CUSTOMER, "updated_at": "2026-03-01T10:00:00"}),
    httpx.Response(200, json={**CUSTOMER, "id": "someone-else"}),
])
async def test_anything_but_a_clear_answer_is_unavailable(response: httpx.Response) -> None:
    with pytest.raises(DependencyUnavailable) as caught:
        await directory(httpx.MockTransport(lambda _: response)).lookup("c-1")
    assert caught.value.status == 503
    assert caught.value.extensions["customer_id"] == "c-1"
    json.dumps(caught.value.extensions)  # the problem body stays serialisable


async def test_network_failures_are_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    for handler in (refuse, slow):
        with pytest.raises(DependencyUnavailable):
            await directory(httpx.MockTransport(handler)).lookup("c-1")


def test_settings_fail_fast_without_a_way_to_authenticate_to_customers() -> None:
    with pytest.raises(ValueError, match="ORDERS_CUSTOMERS_TOKEN"):
        OrdersSettings(mode="production", database_url="postgresql+asyncpg://db/orders",
                       jwt_jwks_url="https://idp.example/jwks")
    settings = OrdersSettings(mode="production", database_url="postgresql+asyncpg://db/orders",
                              jwt_jwks_url="https://idp.example/jwks", customers_token="from-the-idp",
                              customers_url="https://customers.internal/")
    assert settings.customers_url == "https://customers.internal"


async def test_a_validation_answer_about_the_id_means_no_such_customer() -> None:
    """The customers service refuses ids it could never have issued (e.g. longer than 36) with a 422."""
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"type": "/problems/validation", "status": 422, "errors": [
            {"loc": ["path", "customer_id"], "msg": "String should have at most 36 characters",
             "type": "string_too_long"}]})

    assert await directory(httpx.MockTransport(handler)).lookup("a" * 37) is None


@pytest.mark.parametrize("response", [
    httpx.Response(422, json={"status": 422, "errors": [{"loc": ["header", "authorization"], "msg": "x",
                                                         "type": "missing"}]}),
    httpx.Response(422, json={"status": 422}),
    httpx.Response(422, text="Unprocessable"),
])
async def test_any_other_validation_answer_is_unavailable(response: httpx.Response) -> None:
    with pytest.raises(DependencyUnavailable):
        await directory(httpx.MockTransport(lambda _: response)).lookup("c-1")
