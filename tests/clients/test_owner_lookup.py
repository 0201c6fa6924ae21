"""The shared owner-lookup client: what counts as "no such entity", and that everything else is a 503."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import BaseModel

from shared.clients.owner_lookup import OwnerClient, OwnerResource
from shared.config import LOCAL_JWT_SECRET, ServiceSettings
from shared.http.auth import Authenticator
from shared.http.errors import DependencyUnavailable


class Thing(BaseModel):
    id: str
    status: str


THING = OwnerResource(name="customer", path="/customers/{id}", id_field="customer_id", model=Thing)


def client_answering(handler: object, **kwargs: object) -> OwnerClient:
    return OwnerClient(owner="customers", base_url="http://owner.test/", timeout_seconds=0.5,
                       jwt_secret=LOCAL_JWT_SECRET, subject="feedback",
                       transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


async def test_an_answer_about_the_id_is_returned_with_a_service_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "c/1", "status": "active", "extra": 1})

    answer = await client_answering(handler).fetch(THING, "c/1")
    assert answer == Thing(id="c/1", status="active")
    assert seen[0].url.path == "/customers/c%2F1" or seen[0].url.raw_path == b"/customers/c%2F1"
    token = seen[0].headers["Authorization"].removeprefix("Bearer ")
    principal = await Authenticator(ServiceSettings()).authenticate(token)
    assert principal.roles == {"service"} and principal.subject == "feedback"


@pytest.mark.parametrize("response", [
    httpx.Response(404, json={"type": "/problems/not-found", "customer_id": "c1"}),
    httpx.Response(422, json={"errors": [{"loc": ["path", "customer_id"], "msg": "too long", "type": "x"}]}),
])
async def test_no_such_entity_only_when_the_owner_says_so_about_this_id(response: httpx.Response) -> None:
    assert await client_answering(lambda _request: response).fetch(THING, "c1") is None


@pytest.mark.parametrize("response", [
    httpx.Response(404, text="Not Found"),  # a proxy or a wrong URL proves nothing
    httpx.Response(404, json={"customer_id": "someone-else"}),
    httpx.Response(422, json={"errors": [{"loc": ["query", "x"], "msg": "m", "type": "t"}]}),
    httpx.Response(500, json={"title": "boom"}),
    httpx.Response(200, json={"id": "other", "status": "active"}),
    httpx.Response(200, text="<html>"),
    httpx.Response(302, headers={"Location": "/elsewhere"}),
])
async def test_anything_unclear_is_dependency_unavailable(response: httpx.Response) -> None:
    with pytest.raises(DependencyUnavailable) as raised:
        await client_answering(lambda _request: response).fetch(THING, "c1")
    assert raised.value.extensions["customer_id"] == "c1" and raised.value.extensions["dependency"] == "customers"


async def test_an_owner_that_is_down_or_slow_is_dependency_unavailable() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(DependencyUnavailable):
        await client_answering(refused).fetch(THING, "c1")

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={"id": "c1", "status": "active"})

    with pytest.raises(DependencyUnavailable):
        await client_answering(slow).fetch(THING, "c1")


async def test_without_secret_or_token_nothing_is_sent() -> None:
    client = OwnerClient(owner="customers", base_url="http://owner.test", timeout_seconds=0.5,
                         transport=httpx.MockTransport(lambda _r: httpx.Response(200)))
    with pytest.raises(DependencyUnavailable):
        await client.fetch(THING, "c1")
    static = client_answering(lambda r: httpx.Response(200, json={"id": "c1", "status": r.headers["Authorization"]}),
                              token="static-token")
    assert (await static.fetch(THING, "c1")).status == "Bearer static-token"  # type: ignore[union-attr]
