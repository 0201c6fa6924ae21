"""Send a plan to the running services, phase by phase, through their public HTTP APIs.

Resuming is safe: entities with a natural key (employee id, SKU, customer e-mail) answer 409 with the
existing id; orders, returns, cases and awards carry an Idempotency-Key; the follow-up commands look at
the entity's state first (an order already paid is not paid again). A company that is complete is
refused; data that is not the seed's is never mixed with it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any, Protocol

from pelanggan.seed.client import SeedError, Services
from pelanggan.seed.plan import Plan
from pelanggan.seed.staff import MARKER_EMPLOYEE_ID


class Progress(Protocol):
    def phase(self, name: str, total: int) -> None: ...
    def advance(self, name: str, amount: int = 1) -> None: ...


class AlreadySeeded(SeedError):
    """The system already holds the seeded company (or data of its own); nothing was sent."""


async def bounded(concurrency: int, items: Iterable[Any], work: Callable[[Any], Awaitable[None]]) -> None:
    """Run ``work`` over the items with at most ``concurrency`` in flight; the first failure stops the rest."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            await work(queue.get_nowait())

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
    except ExceptionGroup as group_error:
        # Callers handle one SeedError (a refusal, an outage), not the task group's wrapping of it.
        first = group_error.exceptions[0]
        while isinstance(first, ExceptionGroup):
            first = first.exceptions[0]
        raise first from group_error


async def existing_company(services: Services, plan: Plan) -> str | None:
    """Why the system must not be seeded (a reason), or None when it is empty or a seed can resume."""
    marker = await services.call("incentives", "GET", f"/employees/{MARKER_EMPLOYEE_ID}", accept=(200, 404))
    if marker.status == 404:
        staff = await services.call("incentives", "GET", "/employees", params={"limit": 1})
        if staff.body["items"]:
            return "the staff directory already holds employees that are not the demo company's"
        return None
    if plan.closed_periods:
        last = await services.call("incentives", "GET", f"/plans/{plan.closed_periods[-1]}", accept=(200, 404))
        if last.status == 200 and last.body.get("status") == "closed":
            return "the demo company is already loaded (its last period is closed)"
    return None  # a seed that stopped half-way: resume it


class Loader:
    def __init__(self, services: Services, plan: Plan, progress: Progress, concurrency: int = 12) -> None:
        self.services, self.plan, self.progress, self.concurrency = services, plan, progress, concurrency
        self.product_ids: dict[str, str] = {}
        self.customer_ids: dict[str, str] = {}
        self.order_ids: dict[str, str] = {}
        self.order_lines: dict[str, dict[str, int]] = {}  # order key -> sku -> line number
        self.category_ids: dict[str, str] = {}
        self.counts: Counter[str] = Counter()

    async def run(self) -> Counter[str]:
        for phase in (self.staff, self.catalogue, self.weights, self.customers, self.orders, self.contacts,
                      self.feedback, self.incentives):
            await phase()
        return self.counts

    # ----- staff, catalogue, weights -------------------------------------------------------------

    async def staff(self) -> None:
        self.progress.phase("staff", len(self.plan.employees))

        async def one(employee: dict) -> None:
            answer = await self.services.call("incentives", "POST", "/employees", json=employee, accept=(201, 409))
            self.counts["employees"] += 1
            self.counts["employees (already there)"] += answer.status == 409
            self.progress.advance("staff")

        await bounded(self.concurrency, self.plan.employees, one)

    async def catalogue(self) -> None:
        self.progress.phase("catalogue", len(self.plan.products))

        async def one(product: dict) -> None:
            answer = await self.services.call("orders", "POST", "/products", json=product, accept=(201, 409))
            self.product_ids[product["sku"]] = (answer.body["id"] if answer.status == 201
                                                else answer.body["existing_product_id"])
            self.counts["products"] += 1
            self.progress.advance("catalogue")

        await bounded(self.concurrency, self.plan.products, one)

    async def weights(self) -> None:
        self.progress.phase("weights", len(self.plan.weights))
        current = {p["product_id"]: p for p in await self.services.all_pages("incentives", "/products")}

        async def one(weight: dict) -> None:
            product_id = self.product_ids[weight["sku"]]
            known = current.get(product_id)
            same = known and Decimal(known["weight"]) == Decimal(weight["weight"]) \
                and known["locomotive"] == weight["locomotive"]
            if not same:  # a resumed run: set already (a second PUT of an earlier date would be refused)
                body = {k: weight[k] for k in ("weight", "locomotive", "effective_from")}
                # incentives learns the product from orders' events: 404 until it has heard.
                await self.services.until_known("incentives", "PUT", f"/products/{product_id}/weight", json=body)
            self.counts["weights"] += 1
            self.progress.advance("weights")

        await bounded(self.concurrency, self.plan.weights, one)

    # ----- customers ---------------------------------------------------------------------------

    async def customers(self) -> None:
        self.progress.phase("customers", len(self.plan.customers))

        async def one(customer: dict) -> None:
            body = self.services.fit("customers", "CustomerCreate", customer["body"])
            answer = await self.services.call("customers", "POST", "/customers", json=body, accept=(201, 409))
            if answer.status == 409:
                self.customer_ids[customer["key"]] = answer.body["existing_customer_id"]
            else:
                customer_id = self.customer_ids[customer["key"]] = answer.body["id"]
                # Consents and manager only on the first registration: a resumed run leaves them as they are.
                await self.services.call("customers", "PUT", f"/customers/{customer_id}/consents",
                                         json={"consents": customer["consents"],
                                               "preferred_channel": customer["preferred_channel"]})
                if customer["manager_id"]:
                    await self.services.call("customers", "PUT", f"/customers/{customer_id}/manager",
                                             json={"employee_id": customer["manager_id"]})
                    self.counts["manager assignments"] += 1
            self.counts["customers"] += 1
            self.progress.advance("customers")

        await bounded(self.concurrency, self.plan.customers, one)

    # ----- orders ------------------------------------------------------------------------------

    async def orders(self) -> None:
        self.progress.phase("orders", len(self.plan.orders))
        by_customer: dict[str, list[dict]] = {}
        for order in self.plan.orders:
            by_customer.setdefault(order["customer_key"], []).append(order)

        async def customer_history(orders: list[dict]) -> None:
            # One customer's orders in time order: each one's loyalty discount depends on those before.
            for order in orders:
                await self._order(order)
                self.progress.advance("orders")

        await bounded(self.concurrency, by_customer.values(), customer_history)

    async def _order(self, order: dict) -> None:
        s = self.services
        body = {**order["body"], "customer_id": self.customer_ids[order["customer_key"]],
                "lines": [{"product_id": self.product_ids[x["sku"]], "quantity": x["quantity"]}
                          for x in order["body"]["lines"]]}
        placed = (await s.call("orders", "POST", "/orders", json=s.fit("orders", "OrderCreate", body),
                               idempotency=f"order-{order['key']}")).body
        order_id = self.order_ids[order["key"]] = placed["id"]
        self.order_lines[order["key"]] = {x["sku"]: n for n, x in enumerate(order["body"]["lines"], start=1)}
        self.counts["orders"] += 1
        status = placed["status"]
        if "cancel" in order and status == "placed":
            await s.call("orders", "POST", f"/orders/{order_id}/cancel",
                         json=s.fit("orders", "CancelRequest", order["cancel"]))
            self.counts["cancellations"] += 1
        if "pay" in order:
            if status == "placed":
                await s.call("orders", "POST", f"/orders/{order_id}/pay",
                             json=s.fit("orders", "PaymentCreate", order["pay"]))
            self.counts["payments"] += 1
            if "return" in order:
                returned = {**order["return"], "lines": [{"product_id": self.product_ids[x["sku"]],
                                                          "quantity": x["quantity"]} for x in order["return"]["lines"]]}
                await s.call("orders", "POST", f"/orders/{order_id}/returns",
                             json=s.fit("orders", "ReturnCreate", returned), idempotency=f"return-{order['key']}")
                self.counts["returns"] += 1

    # ----- interactions and consultations --------------------------------------------------------

    async def contacts(self) -> None:
        plan = self.plan
        self.progress.phase("contacts", len(plan.interactions) + len(plan.consultations))
        by_customer: dict[str, list[dict]] = {}
        for item in plan.interactions:
            by_customer.setdefault(item["customer_key"], []).append(item)
        consultations = {c["customer_key"]: c for c in plan.consultations}

        async def one(customer_key: str) -> None:
            s, customer_id = self.services, self.customer_ids[customer_key]
            items = by_customer.get(customer_key, [])
            # The log takes no Idempotency-Key: an entry already there (same instant, same summary) was sent by
            # an earlier run. Other entries (the services' own follow-ups) are no reason to skip.
            logged = {(x["occurred_at"][:19], x["summary"]) for x in await s.all_pages(
                "customers", f"/customers/{customer_id}/interactions")} if items else set()
            for item in items:
                if (item["body"]["occurred_at"][:19], item["body"]["summary"]) not in logged:
                    await s.call("customers", "POST", f"/customers/{customer_id}/interactions", json=item["body"])
            self.counts["interactions"] += len(items)
            self.progress.advance("contacts", len(items))
            if (consultation := consultations.get(customer_key)) is None:
                return
            # The agenda also holds the follow-ups the services schedule themselves (locomotive sales,
            # retention calls): only the seed's own topic tells whether an earlier run made this one.
            agenda = await s.all_pages("customers", "/consultations", {"customer_id": customer_id})
            if not any(c["topic"] == consultation["body"]["topic"] for c in agenda):
                made = (await s.call("customers", "POST", f"/customers/{customer_id}/consultations",
                                     json=consultation["body"])).body
                if consultation["outcome"]:
                    await s.call("customers", "POST", f"/consultations/{made['id']}/complete",
                                 json={"outcome": consultation["outcome"]})
            self.counts["consultations"] += 1
            self.progress.advance("contacts")

        await bounded(self.concurrency, sorted(set(by_customer) | set(consultations)), one)

    # ----- feedback ----------------------------------------------------------------------------

    async def feedback(self) -> None:
        s = self.services
        self.progress.phase("feedback", len(self.plan.cases))
        existing = {tuple(c["path"]): c["id"] for c in (await s.call("feedback", "GET", "/categories")).body}
        for parent, children in self.plan.categories.items():
            parent_id = existing.get((parent,)) or (await s.call(
                "feedback", "POST", "/categories", json={"name": parent})).body["id"]
            for child in children:
                self.category_ids[child] = existing.get((parent, child)) or (await s.call(
                    "feedback", "POST", "/categories", json={"name": child, "parent_id": parent_id})).body["id"]
        await bounded(self.concurrency, self.plan.cases, self._case)

    async def _case(self, case: dict) -> None:
        s = self.services
        planned = dict(case["body"])
        body = {k: v for k, v in planned.items() if k not in ("order_key", "category")}
        body["customer_id"] = self.customer_ids[case["customer_key"]]
        body["category_id"] = self.category_ids[planned["category"]]
        if "order_key" in planned:
            body["order_id"] = self.order_ids[planned["order_key"]]
        opened = (await s.call("feedback", "POST", "/cases", json=s.fit("feedback", "CaseCreate", body),
                               idempotency=f"case-{case['key']}")).body
        case_id = opened["id"]
        self.counts["cases"] += 1
        if opened["first_response_at"] is None:
            await s.call("feedback", "POST", f"/cases/{case_id}/responses",
                         json=s.fit("feedback", "ResponseCreate", case["response"]))
        self.counts["responses"] += 1
        if "resolve" in case:
            if opened["resolved_at"] is None:
                await s.call("feedback", "POST", f"/cases/{case_id}/resolve",
                             json=s.fit("feedback", "ResolveRequest", case["resolve"]))
            self.counts["resolutions"] += 1
            if "rating" in case:
                if not opened["rated"]:
                    await s.call("feedback", "POST", f"/cases/{case_id}/rating",
                                 json=s.fit("feedback", "RatingCreate", case["rating"]))
                self.counts["ratings"] += 1
        self.progress.advance("feedback")

    # ----- incentives: policy, plans, gifts, awards, closes ---------------------------------------

    async def incentives(self) -> None:
        s, plan = self.services, self.plan
        self.progress.phase("incentives", len(plan.plans) + len(plan.awards) + len(plan.closed_periods))
        if not (await s.call("incentives", "GET", "/bonus-policy/versions")).body:
            await s.call("incentives", "PUT", "/bonus-policy", json=plan.bonus_policy)
        gifts = {g["name"]: g["id"] for g in await s.all_pages("incentives", "/gifts")}
        for gift in plan.gifts:
            if gift["name"] not in gifts:
                gifts[gift["name"]] = (await s.call("incentives", "POST", "/gifts", json=gift)).body["id"]
        for month in plan.plans:
            # 409: the period is closed already (a resumed run), its plan is frozen as it was.
            await s.call("incentives", "PUT", f"/plans/{month['period']}", json=month["body"], accept=(200, 409))
            self.counts["plans"] += 1
            self.progress.advance("incentives")
        await self._incentives_caught_up()
        awards = {a["body"]["period"]: a for a in plan.awards}
        for period in plan.closed_periods:
            state = (await s.call("incentives", "GET", f"/plans/{period}")).body
            if state["status"] == "closed":
                self.counts["closed periods"] += 1
                self.progress.advance("incentives", 2 if period in awards else 1)
                continue
            if (award := awards.get(period)) is not None:
                body = {**award["body"], "gift_id": gifts[award["gift_name"]]}
                await s.call("incentives", "POST", "/awards", json=body, idempotency=award["key"])
                self.counts["gift awards"] += 1
                self.progress.advance("incentives")
            closed = (await s.call("incentives", "POST", f"/periods/{period}/close")).body
            self.counts["closed periods"] += 1
            self.counts["awards at close"] += len(closed["awards"])
            self.progress.advance("incentives")

    async def _incentives_caught_up(self, *, quiet_polls: int = 3, timeout: float = 600.0) -> None:
        """Closing freezes a month's figures: wait until incentives has counted the orders sent (its lines
        stop growing), since the events reach it through the bus after the HTTP answers."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last, quiet = -1, 0
        while quiet < quiet_polls and loop.time() < deadline:
            total = 0
            # The month after the history too: orders sent to a service that takes no placed_at count there.
            for period in [m["period"] for m in self.plan.plans] + [self.plan.history_end[:7]]:
                report = (await self.services.call("incentives", "GET", f"/periods/{period}/contributions")).body
                total += sum(e["lines"] for e in report["employees"])
            quiet = quiet + 1 if total == last and total > 0 else 0
            last = total
            await asyncio.sleep(1.0)
