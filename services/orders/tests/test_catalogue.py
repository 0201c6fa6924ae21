"""The catalogue API against the real database and broker: products, price periods, events."""

from __future__ import annotations

import httpx
import pytest

from services.orders.tests.conftest import (
    ANALYST,
    MANAGER,
    SERVICE,
    SUPPORT,
    EventLog,
    assert_problem,
    create_product,
    unique,
)

pytestmark = pytest.mark.integration


async def test_product_lifecycle_keeps_price_periods_and_publishes_them(client: httpx.AsyncClient,
                                                                        event_log: EventLog) -> None:
    sku = unique("pap-")
    response = await client.post("/products", json={
        "sku": f"  {sku} ", "name": "Kertas HVS A4", "category": " Paper ", "unit_price": "45000.50",
        "unit_cost": "30250.25"}, headers=MANAGER)
    assert response.status_code == 201, response.text
    product = response.json()
    assert response.headers["location"] == f"/products/{product['id']}"
    assert product["sku"] == sku.upper()  # skus are case-insensitive: kept upper-case
    assert product["category"] == "paper"
    assert (product["unit_price"], product["unit_cost"], product["currency"]) == ("45000.50", "30250.25", "IDR")
    assert product["active"] is True

    fetched = await client.get(f"/products/{product['id']}", headers=ANALYST)
    assert fetched.status_code == 200 and fetched.json() == product

    changed = await client.patch(f"/products/{product['id']}", json={"unit_price": "47500.00", "name": "HVS A4"},
                                 headers=MANAGER)
    assert changed.status_code == 200, changed.text
    assert changed.json()["unit_price"] == "47500.00" and changed.json()["unit_cost"] == "30250.25"
    assert changed.json()["price_effective_at"] > product["price_effective_at"]

    same = await client.patch(f"/products/{product['id']}", json={"name": "HVS A4"}, headers=MANAGER)
    assert same.status_code == 200 and same.json()["updated_at"] == changed.json()["updated_at"]

    renamed = await client.patch(f"/products/{product['id']}", json={"active": False}, headers=MANAGER)
    assert renamed.json()["active"] is False
    assert renamed.json()["price_effective_at"] == changed.json()["price_effective_at"]  # no new price period

    history = await client.get(f"/products/{product['id']}/prices", headers=SERVICE)
    assert history.status_code == 200
    assert [(p["unit_price"], p["unit_cost"]) for p in history.json()] == [("47500.00", "30250.25"),
                                                                          ("45000.50", "30250.25")]
    assert history.json()[0]["effective_at"] == changed.json()["price_effective_at"]

    created = await event_log.wait_type("orders.product.created", product_id=product["id"])
    assert created[0].key == product["id"]
    assert created[0].payload["unit_price"] == "45000.50" and created[0].payload["unit_cost"] == "30250.25"
    updates = await event_log.wait_type("orders.product.updated", count=2, product_id=product["id"])
    assert [u.payload["changed_fields"] for u in updates] == [["name", "unit_price"], ["active"]]
    assert updates[0].payload["unit_price"] == "47500.00"
    assert updates[0].payload["price_effective_at"].startswith(changed.json()["price_effective_at"][:19])


async def test_catalogue_search_filters_and_cursor_pages(client: httpx.AsyncClient) -> None:
    category = unique("cat")
    skus = []
    for n in range(5):
        product = await create_product(client, sku=unique(f"srch{n}-"), category=category, name=f"Pulpen gel {n}",
                                       active=n != 4)
        skus.append(product["sku"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"category": category, "active": "true", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/products", params=params, headers=ANALYST)).json()
        seen += [p["sku"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(skus[:4])
    found = (await client.get("/products", params={"q": "GEL 3", "category": category}, headers=ANALYST)).json()
    assert [p["sku"] for p in found["items"]] == [skus[3]]
    by_sku = (await client.get("/products", params={"q": skus[1].lower()}, headers=ANALYST)).json()
    assert [p["sku"] for p in by_sku["items"]] == [skus[1]]
    inactive = (await client.get("/products", params={"category": category, "active": "false"},
                                 headers=ANALYST)).json()
    assert [p["sku"] for p in inactive["items"]] == [skus[4]]


async def test_catalogue_refusals_are_problems(client: httpx.AsyncClient) -> None:
    product = await create_product(client)
    base = {"sku": unique("ref-"), "name": "Map", "category": "office", "unit_price": "10.00", "unit_cost": "5.00"}

    assert_problem(await client.post("/products", json={**base, "sku": product["sku"].lower()}, headers=MANAGER), 409)
    for bad in ({"unit_price": "10.005"}, {"unit_price": "-1"}, {"unit_cost": "NaN"}, {"unit_price": True},
                {"currency": "RUPIAH"}, {"sku": ""}, {"sku": "a b"}, {"name": " "}, {"extra": 1},
                {"unit_price": "1e30"}, {"name": "nul\u0000"}, {"category": ["paper"]}):
        assert_problem(await client.post("/products", json={**base, **bad}, headers=MANAGER), 422)
    body = assert_problem(await client.post("/products", json={**base, "currency": "jpy", "unit_price": "10.50"},
                                            headers=MANAGER), 422)
    assert body["field"] == "unit_price"
    assert_problem(await client.post("/products", json={**base, "currency": "KWD"}, headers=MANAGER), 422)
    zero_digit = await client.post("/products", json={**base, "sku": unique("yen-"), "currency": "jpy",
                                                      "unit_price": "1050"}, headers=MANAGER)
    assert zero_digit.status_code == 201 and zero_digit.json()["currency"] == "JPY"

    assert_problem(await client.get("/products/nope", headers=ANALYST), 404, "product-not-found")
    assert_problem(await client.get("/products/a%00", headers=ANALYST), 422)
    assert_problem(await client.get("/products", params={"q": "a\x00"}, headers=ANALYST), 422)
    assert_problem(await client.patch("/products/nope", json={"name": "x"}, headers=MANAGER), 404)
    url = f"/products/{product['id']}"
    assert_problem(await client.patch(url, json={}, headers=MANAGER), 422)
    assert_problem(await client.patch(url, json={"name": None}, headers=MANAGER), 422)
    assert_problem(await client.patch(url, json={"currency": "USD"}, headers=MANAGER), 422)
    other = await create_product(client)
    assert_problem(await client.patch(url, json={"sku": other["sku"]}, headers=MANAGER), 409)
    assert_problem(await client.get("/products", params={"cursor": "garbage"}, headers=ANALYST), 422)
    assert_problem(await client.get("/products", params={"limit": 0}, headers=ANALYST), 422)

    assert_problem(await client.post("/products", json=base), 401)
    assert_problem(await client.post("/products", json=base, headers={"Authorization": "Bearer nonsense"}), 401)
    assert_problem(await client.post("/products", json=base, headers=SUPPORT), 403)
    assert_problem(await client.patch(url, json={"name": "x"}, headers=ANALYST), 403)
