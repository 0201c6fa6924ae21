"""One request followed across services: the id given at the gateway runs through HTTP and events to
every consumer, in each service's own JSON log."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import ADMIN, RunningSystem, eventually

pytestmark = pytest.mark.integration


async def test_a_request_id_given_at_the_gateway_reaches_every_consumer_of_its_events(
        gateway: httpx.AsyncClient, running_system: RunningSystem) -> None:
    tag = uuid.uuid4().hex[:8]
    employee = (await gateway.post("/incentives/employees", headers=ADMIN, json={
        "name": f"Rina {tag}", "role": "sales", "hired_on": "2025-02-03"})).json()["id"]
    customer = (await gateway.post("/customers/customers", headers=ADMIN, json={
        "kind": "company", "name": f"CV Kertas {tag}", "emails": [f"beli.{tag}@example.com"],
        "segment": "offices"})).json()["id"]
    product = (await gateway.post("/orders/products", headers=ADMIN, json={
        "sku": f"TONER-{tag}", "name": "Toner HP 85A", "category": "printing consumables",
        "unit_price": "850000.00", "unit_cost": "610000.00"})).json()["id"]
    order = await gateway.post("/orders/orders", headers=ADMIN, json={
        "customer_id": customer, "channel": "phone", "sales_employee_id": employee,
        "lines": [{"product_id": product, "quantity": 2}]})
    assert order.status_code == 201, order.text

    request_id = f"story-{tag}"
    paid = await gateway.post(f"/orders/orders/{order.json()['id']}/pay", json={"method": "bank_transfer"},
                              headers={**ADMIN, "X-Request-ID": request_id})
    assert paid.status_code == 200 and paid.headers["x-request-id"] == request_id

    def lines(service: str, message: str) -> list[dict[str, object]]:
        return [line for line in running_system.log_lines(service)
                if line.get("correlation_id") == request_id and line.get("msg") == message]

    # The HTTP request, in the orders service's access log (written just after the answer)...
    await eventually(lambda: [line for line in lines("orders", "request")
                              if line["route"] == "/orders/{order_id}/pay" and line["status"] == 200])
    # ...and `orders.order.paid` applied under the same id by every service that consumes it.
    for consumer in ("feedback", "incentives", "analytics"):
        applied = await eventually(lambda c=consumer: [
            line for line in lines(c, "event applied") if line.get("event_type") == "orders.order.paid"])
        assert applied[0]["service"] == consumer


async def test_the_gateway_makes_a_request_id_when_the_client_gives_none(gateway: httpx.AsyncClient,
                                                                        running_system: RunningSystem) -> None:
    response = await gateway.get("/customers/customers?limit=1", headers=ADMIN)
    assert response.status_code == 200
    made = response.headers["x-request-id"]
    assert len(made) >= 16
    access = await eventually(lambda: [line for line in running_system.log_lines("customers")
                                       if line.get("correlation_id") == made and line.get("msg") == "request"])
    assert access[0]["route"] == "/customers"
