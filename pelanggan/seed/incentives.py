"""Phase 8: bonus policy, monthly sales plans, the gift catalogue, gift awards and closed past periods."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pelanggan.seed.randomness import month_start, period_of, rng, rupiah

# Only the categories incentives allows: never personal items, clothing or jewellery (the brief's rule 8).
GIFTS = (
    {"name": "Rice cooker 1.8 L", "category": "household_appliances", "value": "650000.00"},
    {"name": "Laptop 14 inch", "category": "computers_electronics", "value": "7500000.00"},
    {"name": "Shopping voucher", "category": "gift_certificates", "value": "1000000.00"},
    {"name": "Two cinema tickets", "category": "event_tickets", "value": "200000.00"},
    {"name": "Business book bundle", "category": "books_media", "value": "350000.00"},
    {"name": "Office chair for home", "category": "home_furnishings", "value": "1800000.00"},
)
BONUS_POLICY = {"rate_per_point": "0.002", "min_fulfilment_percent": "60",
                "accelerators": [{"above_percent": "100", "multiplier": "1.5"}], "cap": "15000000.00"}


def _points(order: dict, prices: dict[str, Decimal], weights: dict[str, Decimal]) -> Decimal:
    return sum((prices[line["sku"]] * line["quantity"] * weights.get(line["sku"], Decimal(1))
                for line in order["body"]["lines"]), Decimal(0))


def plans(seed: int, orders: list[dict], catalogue: list[dict], weighted: list[dict], history_start: date,
          months: int) -> list[dict]:
    """Each month's targets: what each employee's planned sales weigh, times an ambition of 85-115 %."""
    r = rng(seed, "plans")
    prices = {p["sku"]: Decimal(p["unit_price"]) for p in catalogue}
    weights = {w["sku"]: Decimal(w["weight"]) for w in weighted}
    expected: dict[tuple[int, str], Decimal] = {}
    for order in orders:
        if "pay" in order:
            slot = (order["month_index"], order["body"]["sales_employee_id"])
            expected[slot] = expected.get(slot, Decimal(0)) + _points(order, prices, weights)
    result: list[dict] = []
    for index in range(months):
        employees = sorted({e for (i, e) in expected if i == index})
        targets = [{"employee_id": e, "target_points": str(rupiah(expected[(index, e)] * Decimal(
            str(r.uniform(0.85, 1.15))), step=1000))} for e in employees]
        company = sum((Decimal(t["target_points"]) for t in targets), Decimal(0))
        result.append({"period": period_of(month_start(history_start, index)),
                       "body": {"company_target_points": str(company.quantize(Decimal("0.01"))),
                                "employees": targets}})
    return result


def gift_awards(seed: int, plans_: list[dict], closed: list[str]) -> list[dict]:
    """One gift a quarter, to an employee with a target, granted while the period is still open."""
    r = rng(seed, "awards")
    result: list[dict] = []
    for plan in plans_:
        if plan["period"] not in closed or int(plan["period"][5:]) % 3 != 0 or not plan["body"]["employees"]:
            continue
        employee = r.choice(plan["body"]["employees"])["employee_id"]
        result.append({"key": f"award-{plan['period']}", "gift_name": r.choice(GIFTS)["name"],
                       "body": {"employee_id": employee, "period": plan["period"], "kind": "gift",
                                "citation": "For the quarter's best customer care"}})
    return result


def closed_periods(plans_: list[dict]) -> list[str]:
    """Every month of the history but the last, which stays open (a live leaderboard to look at)."""
    return [p["period"] for p in plans_[:-1]]
