"""The whole company as data: a pure, deterministic function of the seed, the sizes and the month it ends.

Nothing here talks to a service or reads the clock: the same arguments give the same plan, byte for byte
(``checksum``), so a re-run after a crash sends the very same entities under the very same keys.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

from pelanggan.seed import catalogue, contacts, customers, feedback, incentives, orders, staff
from pelanggan.seed.randomness import month_start


@dataclass(frozen=True)
class Plan:
    seed: int
    months: int
    history_start: str
    history_end: str  # exclusive: the first day after the history
    employees: list[dict]
    products: list[dict]
    weights: list[dict]
    customers: list[dict]
    orders: list[dict]
    interactions: list[dict]
    consultations: list[dict]
    categories: dict[str, tuple[str, ...]]
    cases: list[dict]
    bonus_policy: dict
    gifts: tuple[dict, ...]
    plans: list[dict]
    awards: list[dict]
    closed_periods: list[str]

    def counts(self) -> dict[str, int]:
        return {"employees": len(self.employees), "products": len(self.products), "weights": len(self.weights),
                "customers": len(self.customers), "orders": len(self.orders),
                "payments": sum("pay" in o for o in self.orders),
                "cancellations": sum("cancel" in o for o in self.orders),
                "returns": sum("return" in o for o in self.orders), "interactions": len(self.interactions),
                "consultations": len(self.consultations), "cases": len(self.cases),
                "ratings": sum("rating" in c for c in self.cases), "plans": len(self.plans),
                "awards": len(self.awards), "closed periods": len(self.closed_periods)}


def build_plan(*, seed: int = 42, customer_count: int = 2000, months: int = 24, until: date) -> Plan:
    """The example company whose history runs for ``months`` whole months up to (excluding) ``until``."""
    if months < 1 or customer_count < 1:
        raise ValueError("months and customers are at least 1")
    end = date(until.year, until.month, 1)
    start = month_start(end, -months)
    cutoff = datetime(end.year, end.month, end.day, tzinfo=UTC)
    staff_ = staff.employees(seed, start)
    products = catalogue.products(seed)
    weights = catalogue.weights(seed, products, start)
    people = customers.customers(seed, customer_count, start, end, staff.ids_of(staff_, "account_manager"),
                                 staff.ids_of(staff_, "sales"))
    history = orders.orders(seed, people, products, start, months, cutoff)
    plans = incentives.plans(seed, history, products, weights, start, months)
    closed = incentives.closed_periods(plans)
    return Plan(seed=seed, months=months, history_start=start.isoformat(), history_end=end.isoformat(),
                employees=staff_, products=products, weights=weights, customers=people, orders=history,
                interactions=contacts.interactions(seed, people, start, cutoff),
                consultations=contacts.consultations(seed, people, start, cutoff),
                categories=feedback.CATEGORIES,
                cases=feedback.cases(seed, history, staff.ids_of(staff_, "support"), cutoff),
                bonus_policy={**incentives.BONUS_POLICY, "effective_from": plans[0]["period"]},
                gifts=incentives.GIFTS, plans=plans, awards=incentives.gift_awards(seed, plans, closed),
                closed_periods=closed)


def checksum(plan: Plan) -> str:
    encoded = json.dumps(asdict(plan), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()
