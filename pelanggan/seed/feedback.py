"""Phase 7: feedback cases (kinds, channels, categories) with responses, resolutions, compensation, ratings."""

from __future__ import annotations

from datetime import datetime, timedelta

from pelanggan.seed.randomness import iso, rng, rupiah

# The category tree: parent -> children (names are the keys the loader resolves to ids).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "Delivery": ("Late delivery", "Damaged in transit"),
    "Product quality": ("Defective item", "Wrong item"),
    "Billing": ("Invoice error",),
    "Service": ("Staff conduct", "Ideas"),
}
KINDS = {"complaint": ("Late delivery", "Damaged in transit", "Staff conduct"),
         "claim": ("Defective item", "Wrong item", "Invoice error"),
         "objection": ("Invoice error",), "suggestion": ("Ideas",), "comment": ("Ideas", "Staff conduct")}
KIND_SHARES = {"complaint": 4, "claim": 3, "objection": 1, "suggestion": 1, "comment": 1}
CASE_CHANNELS = ("phone", "email", "messenger", "web", "in_person")


def cases(seed: int, orders: list[dict], support: list[str], now: datetime, share: float = 0.03) -> list[dict]:
    """About ``share`` of the paid orders lead to a case; some first replies come late (an SLA breach)."""
    r = rng(seed, "feedback")
    kinds = list(KIND_SHARES)
    result: list[dict] = []
    for order in orders:
        if "pay" not in order or r.random() >= share:
            continue
        kind = r.choices(kinds, weights=[KIND_SHARES[k] for k in kinds])[0]
        paid = datetime.fromisoformat(order["pay"]["paid_at"].replace("Z", "+00:00"))
        received = paid + timedelta(hours=r.randint(4, 120))
        if received >= now - timedelta(days=1):
            continue
        about_order = kind in ("complaint", "claim", "objection")
        body: dict = {"kind": kind, "channel": r.choice(CASE_CHANNELS), "category": r.choice(KINDS[kind]),
                      "subject": f"{kind.title()} about order {order['key']}",
                      "body": "The customer's message, as received.", "assignee_id": r.choice(support),
                      "received_at": iso(received)}
        if about_order:
            body["order_key"] = order["key"]
            body["line_nos"] = [1]
        if kind == "complaint":
            body["employee_id"] = order["body"]["sales_employee_id"]  # complaints about the sale count against it
        # One in six first replies comes after two days or more: past any first-response target.
        late = r.random() < 1 / 6
        replied = received + (timedelta(hours=r.randint(50, 120)) if late else timedelta(minutes=r.randint(10, 300)))
        resolved = replied + timedelta(hours=r.randint(2, 72))
        case: dict = {"key": f"{order['key']}-F", "customer_key": order["customer_key"], "body": body,
                      "response": {"kind": "reply", "channel": body["channel"],
                                   "body": "Thank you, we are looking into it.", "occurred_at": iso(replied)}}
        if resolved < now:
            outcome = {"complaint": "upheld", "claim": r.choice(("upheld", "partially_upheld", "rejected")),
                       "objection": "answered", "suggestion": "noted", "comment": "noted"}[kind]
            resolve: dict = {"outcome": outcome, "text": "What we did about it.", "occurred_at": iso(resolved)}
            if kind == "claim" and outcome != "rejected":
                resolve["compensation"] = r.choice(("refund", "credit_note", "replacement"))
                resolve["compensation_amount"] = str(rupiah(r.uniform(25_000, 750_000), step=1000))
            case["resolve"] = resolve
            if r.random() < 0.6:
                rated = resolved + timedelta(hours=r.randint(1, 48))
                if rated < now:
                    case["rating"] = {"rating": r.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 4, 4))[0],
                                      "occurred_at": iso(rated)}
        result.append(case)
    return result
