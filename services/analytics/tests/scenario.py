"""A small, hand-checked set of customers' events and the figures they must give, to the cent.

Customer A (wholesale, manager emp-1):
- order 1 paid 10 March: paper 10 x 50,000 (cost 30,000) and writing 4 x 12,500 (cost 7,000), 5 % discount:
  gross 550,000, discount 27,500, net 522,500, cost 328,000;
- return of 2 paper on 2 April: net round(475,000 x 2/10) = 95,000, discount 5,000, cost 60,000;
- order 2 paid 15 April (1 paper: net 47,500, discount 2,500, cost 30,000), cancelled 16 April;
- a complaint received 3 April, resolved 5 April with 25,000.50 refunded, its SLA breached;
- 2 phone calls (15,000 each), 1 e-mail (5,000), 1 consultation (150,000), 1 announcement e-mail sent (500),
  1 failed (nothing), the complaint itself (100,000): cost to serve 285,500.
Totals: revenue 522,500 - 95,000 = 427,500; cost of goods 328,000 - 60,000 = 268,000; gross margin 159,500;
discounts 27,500 - 5,000 = 22,500; compensation 25,000.50; net contribution 159,500 - 25,000.50 - 285,500
= -151,000.50; orders 1; returns 1; AOV 522,500; returns rate 95,000 / 522,500 = 0.181818.
March: revenue 522,500, margin 194,500, cost to serve 30,000 + 150,000 = 180,000 (calls and consultation in
March), net 14,500. April: revenue -95,000, margin -35,000, compensation 25,000.50, cost to serve 5,000 + 500 +
100,000 = 105,500, net -165,500.50.

Customer B (retail, manager emp-2) with a duplicate D merged into it on 20 April: D's order paid 12 March (net
100,000, cost 60,000; 1 writing 8 x 12,500, no discount) and B's own order paid 22 April (net 25,000, cost
14,000; 2 writing). B: revenue 125,000, cost of goods 74,000, margin 51,000, orders 2, no costs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.analytics.tests import builders as b
from shared.events.envelope import EventEnvelope


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 5, 0, tzinfo=UTC)  # midday in Jakarta


def scenario(a: str, b_id: str, d: str, tag: str) -> list[EventEnvelope]:
    paper, writing = f"paper-{tag}", f"pen-{tag}"
    o1 = [
        b.line(1, product_id=paper, category="paper", quantity=10, price="50000", cost="30000", discount_percent="5"),
        b.line(2, product_id=writing, category="writing", quantity=4, price="12500", cost="7000", discount_percent="5"),
    ]
    o2 = [b.line(1, product_id=paper, category="paper", quantity=1, price="50000", cost="30000", discount_percent="5")]
    od = [
        b.line(1, product_id=writing, category="writing", quantity=8, price="12500", cost="7500", discount_percent="0")
    ]
    ob = [
        b.line(1, product_id=writing, category="writing", quantity=2, price="12500", cost="7000", discount_percent="0")
    ]
    case_id = f"case-{tag}"
    return [
        b.registered(a, segment="wholesale", manager_id="emp-1", at=at(1, 5)),
        b.registered(b_id, segment="retail", manager_id="emp-2", at=at(1, 6)),
        b.registered(d, segment="offices", manager_id="emp-3", at=at(1, 7)),
        b.paid(f"o1-{tag}", a, o1, at=at(3, 10)),
        b.interaction(a, "phone", at=at(3, 11)),
        b.interaction(a, "phone", at=at(3, 12)),
        b.consultation(a, at=at(3, 20)),
        b.paid(f"od-{tag}", d, od, at=at(3, 12)),
        b.returned(f"o1-{tag}", a, [(o1[0], 2)], at=at(4, 2), paid_at=at(3, 10)),
        b.case_received(case_id, a, "complaint", at=at(4, 3)),
        b.sla_breached(case_id, a, "complaint", at=at(4, 4)),
        b.case_resolved(case_id, a, "complaint", at=at(4, 5), compensation="25000.50", breached=True),
        b.interaction(a, "email", at=at(4, 6)),
        b.delivered(a, "email", at=at(4, 7)),
        b.delivered(a, "sms", at=at(4, 7), status="failed"),
        b.paid(f"o2-{tag}", a, o2, at=at(4, 15)),
        b.cancelled(f"o2-{tag}", a, o2, at=at(4, 16), was_paid=True),
        b.merged(d, b_id, at=at(4, 20)),
        b.paid(f"ob-{tag}", b_id, ob, at=at(4, 22)),
    ]


EXPECTED_A = {
    "revenue": Decimal("427500.00"),
    "cost_of_goods": Decimal("268000.00"),
    "gross_margin": Decimal("159500.00"),
    "discounts": Decimal("22500.00"),
    "compensation": Decimal("25000.50"),
    "cost_to_serve": Decimal("285500.00"),
    "net_contribution": Decimal("-151000.50"),
    "sales_net": Decimal("522500.00"),
    "returns_net": Decimal("95000.00"),
    "orders": 1,
    "returns": 1,
    "aov": Decimal("522500.00"),
    "returns_rate": 0.181818,
}
EXPECTED_A_MONTHS = {
    "2026-03": {
        "revenue": Decimal("522500.00"),
        "gross_margin": Decimal("194500.00"),
        "cost_to_serve": Decimal("180000.00"),
        "net_contribution": Decimal("14500.00"),
    },
    "2026-04": {
        "revenue": Decimal("-95000.00"),
        "gross_margin": Decimal("-35000.00"),
        "compensation": Decimal("25000.50"),
        "cost_to_serve": Decimal("105500.00"),
        "net_contribution": Decimal("-165500.50"),
    },
}
EXPECTED_B = {
    "revenue": Decimal("125000.00"),
    "cost_of_goods": Decimal("74000.00"),
    "gross_margin": Decimal("51000.00"),
    "orders": 2,
    "cost_to_serve": Decimal("0.00"),
    "net_contribution": Decimal("51000.00"),
}


def figures(body: dict, keys: dict) -> dict:
    return {k: (Decimal(body[k]) if isinstance(v, Decimal) else body[k]) for k, v in keys.items()}
