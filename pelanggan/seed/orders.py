"""Phase 5: two years of orders with seasonality and planted demand shifts; payments, cancellations, returns."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pelanggan.seed.randomness import iso, month_start, poisson, random_day, rng, working_instant

# Orders per customer per month at an ordinary time of year, before a customer's own activity factor.
BASE_RATE = {"wholesale": 1.2, "retail_shops": 0.45, "printing_houses": 0.8, "offices": 0.35, "schools": 0.25,
             "individuals": 0.1}
# What each segment buys: category -> relative share of its order lines.
MIX = {
    "wholesale": {"paper": 3, "writing": 3, "office_equipment": 1, "printing_consumables": 1, "packaging": 2,
                  "school_supplies": 3},
    "retail_shops": {"paper": 2, "writing": 4, "office_equipment": 1, "packaging": 1, "school_supplies": 4},
    "printing_houses": {"paper": 5, "printing_consumables": 5, "packaging": 2, "office_equipment": 1},
    "offices": {"paper": 4, "writing": 3, "office_equipment": 3, "printing_consumables": 3, "packaging": 1},
    "schools": {"paper": 3, "writing": 3, "school_supplies": 6, "office_equipment": 1},
    "individuals": {"writing": 3, "school_supplies": 3, "paper": 1, "office_equipment": 1},
}
QUANTITY = {"wholesale": (20, 200), "retail_shops": (5, 60), "printing_houses": (10, 120), "offices": (2, 30),
            "schools": (10, 150), "individuals": (1, 5)}
CHANNELS = ("store", "phone", "email", "messenger", "web", "field")
PAYMENT_METHODS = ("bank_transfer", "cash", "card", "e_wallet", "credit_account")


def season(segment: str, month: int) -> float:
    """The brief's back-to-school peaks (July, January) for schools and shops, and the offices' year end."""
    if segment in ("schools", "retail_shops", "individuals", "wholesale"):
        return {7: 2.4, 6: 1.5, 1: 2.0, 12: 1.3, 8: 1.2}.get(month, 1.0)
    if segment == "offices":
        return {11: 1.6, 12: 2.0}.get(month, 1.0)
    return 1.0


@dataclass(frozen=True)
class Shift:
    """A planted demand shift: from ``from_month`` (index into the history) a segment buys ``factor`` times as
    much of a category. The trend detector should find it."""

    segment: str
    category: str
    factor: float
    from_month: int


def shifts(months: int) -> list[Shift]:
    # Placed at the same share of the history whatever its length: month 18 of 24, month 12 of 24.
    return [Shift("printing_houses", "packaging", 2.0, max(1, months * 3 // 4)),
            Shift("offices", "printing_consumables", 0.5, max(1, months // 2)),
            Shift("retail_shops", "office_equipment", 1.8, max(1, months * 2 // 3))]


def _mix(segment: str, month_index: int, planted: list[Shift]) -> dict[str, float]:
    mix = {c: float(w) for c, w in MIX[segment].items()}
    for shift in planted:
        if shift.segment == segment and month_index >= shift.from_month and shift.category in mix:
            mix[shift.category] *= shift.factor
    return mix


def _lines(r: random.Random, segment: str, mix: dict[str, float], by_category: dict[str, list[dict]]) -> list[dict]:
    low, high = QUANTITY[segment]
    categories = list(mix)
    chosen: dict[str, int] = {}
    for _ in range(r.randint(1, 6)):
        category = r.choices(categories, weights=[mix[c] for c in categories])[0]
        sku = r.choice(by_category[category])["sku"]
        chosen[sku] = chosen.get(sku, 0) + r.randint(low, high)
    return [{"sku": sku, "quantity": quantity} for sku, quantity in chosen.items()]


def _later(r: random.Random, start: datetime, *, min_hours: int, max_hours: int, before: datetime) -> datetime | None:
    at = start + timedelta(hours=r.randint(min_hours, max_hours), minutes=r.randint(0, 59))
    return at if at < before else None


def orders(seed: int, customers: list[dict], catalogue: list[dict], history_start: date, months: int,
           now: datetime) -> list[dict]:
    """Every order of the history, each customer's in time order (a customer's loyalty grows in that order)."""
    r = rng(seed, "orders")
    by_category: dict[str, list[dict]] = {}
    for product in catalogue:
        by_category.setdefault(product["category"], []).append(product)
    planted = shifts(months)
    result: list[dict] = []
    for customer in customers:
        registered = date.fromisoformat(customer["registered_on"])
        segment = customer["segment"]
        number = 0
        for index in range(months):
            first = month_start(history_start, index)
            last = month_start(history_start, index + 1) - timedelta(days=1)
            if last < registered:
                continue
            mean = BASE_RATE[segment] * customer["activity"] * season(segment, first.month)
            mix = _mix(segment, index, planted)
            days = sorted(random_day(r, max(first, registered + timedelta(days=1)), last)
                          for _ in range(poisson(r, mean)))
            for day in days:
                number += 1
                placed = working_instant(r, day)
                if placed >= now:
                    continue
                order: dict = {"key": f"{customer['key']}-O{number:04d}", "customer_key": customer["key"],
                               "month_index": index, "segment": segment,
                               "body": {"lines": _lines(r, segment, mix, by_category),
                                        "channel": r.choice(CHANNELS),
                                        "sales_employee_id": customer["sales_employee_id"], "placed_at": iso(placed)}}
                fate = r.random()
                if fate < 0.05:
                    at = _later(r, placed, min_hours=1, max_hours=48, before=now)
                    if at:
                        order["cancel"] = {"reason": r.choice(("customer changed plans", "out of budget",
                                                               "ordered twice by mistake")), "cancelled_at": iso(at)}
                else:
                    paid = _later(r, placed, min_hours=1, max_hours=96, before=now)
                    if paid:
                        order["pay"] = {"method": r.choice(PAYMENT_METHODS), "paid_at": iso(paid)}
                        returned = _later(r, paid, min_hours=48, max_hours=480, before=now)
                        if returned and r.random() < 0.05:
                            line = r.choice(order["body"]["lines"])
                            order["return"] = {"lines": [{"sku": line["sku"],
                                                          "quantity": max(1, line["quantity"] // 3)}],
                                               "reason": r.choice(("damaged in transit", "wrong item", "defective")),
                                               "returned_at": iso(returned)}
                result.append(order)
    return result
