"""A small, seeded demo world for the dashboard test: customers in segments, two and a half years of
seasonal orders with a planted emerging demand, returns, cases, staff with weights, a closed period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from services.analytics.tests import builders as b
from services.analytics.tests.conftest import unique
from shared.events.envelope import EventEnvelope

SEGMENTS = ("wholesale", "retail", "printing", "offices", "schools")
CATEGORIES = ("paper", "writing", "packaging", "school supplies")
STAFF = {"emp-ani": "Ani Wijaya", "emp-budi": "Budi Santoso", "emp-citra": "Citra Lestari", "emp-dewi": "Dewi Putri"}


def demo_events(now: datetime, *, customers: int = 12, months: int = 26, seed: int = 7) -> list[EventEnvelope]:
    rng = np.random.default_rng(seed)
    tag = unique()
    first_months = []
    year, month_no = now.year, now.month
    for _ in range(months + 1):  # the current month and the ``months`` before it, oldest first
        first_months.insert(0, datetime(year, month_no, 1, 5, tzinfo=UTC))
        year, month_no = (year, month_no - 1) if month_no > 1 else (year - 1, 12)
    start = first_months[0]
    events: list[EventEnvelope] = [b.employee_hired(e, name, at=start) for e, name in STAFF.items()]
    events += [b.weight_set(f"{c}-{tag}", weight, effective_at=start, locomotive=c == "paper")
               for c, weight in zip(CATEGORIES, ("2.0", "1.0", "1.5", "0.8"), strict=True)]
    people = []
    for i in range(customers):
        customer = unique("demo-")
        segment = SEGMENTS[i % len(SEGMENTS)]
        people.append((customer, segment))
        events.append(b.registered(customer, segment=segment, manager_id=list(STAFF)[i % 4], at=start))
    case_no = 0
    for month, first in enumerate(first_months):
        season = 1 + 0.4 * (first.month in (6, 7)) + 0.2 * (first.month == 12)
        for i, (customer, segment) in enumerate(people):
            if rng.random() > 0.55 + 0.02 * (i % 5):
                continue
            day = first + timedelta(days=int(rng.integers(0, 25)))
            if day > now - timedelta(hours=1):
                day = now - timedelta(hours=2)
            lines = []
            for n, category in enumerate(CATEGORIES):
                quantity = int(rng.poisson(6 * season))
                if category == "packaging" and segment == "printing" and month >= months - 10:
                    quantity *= 3  # the planted emerging demand
                if quantity:
                    lines.append(b.line(n + 1, product_id=f"{category}-{tag}", category=category, quantity=quantity,
                                        price=("45000", "12000", "30000", "20000")[n],
                                        cost=("30000", "7000", "21000", "13000")[n], discount_percent="5"))
            if not lines:
                continue
            order_id = unique("o-")
            employee = list(STAFF)[(i + month) % 4]
            events.append(b.paid(order_id, customer, lines, at=day, employee=employee))
            if rng.random() < 0.08:
                events.append(b.returned(order_id, customer, [(lines[0], max(1, lines[0].quantity // 3))],
                                         at=day + timedelta(days=3), paid_at=day, employee=employee))
            if rng.random() < 0.1:
                case_no += 1
                case_id = f"case-{tag}-{case_no}"
                kind = ("complaint", "claim", "suggestion")[case_no % 3]
                events.append(b.case_received(case_id, customer, kind, at=day + timedelta(hours=3)))
                if rng.random() < 0.3:
                    events.append(b.sla_breached(case_id, customer, kind, at=day + timedelta(hours=30)))
                events.append(b.case_resolved(case_id, customer, kind, at=day + timedelta(days=2),
                                              compensation="50000.00" if kind == "claim" else "0"))
            if rng.random() < 0.3:
                events.append(b.interaction(customer, "phone", at=day))
    last = (now.replace(day=1) - timedelta(days=1))
    results = [{"employee_id": e, "net_sales": "1000000", "weighted_points": str(1500000 - 100000 * k),
                "locomotive_sales": "0", "personal_target_points": None, "fulfilment_percent": None,
                "bonus": "250000", "rank": k + 1} for k, e in enumerate(STAFF)]
    events.append(b.period_closed(f"{last.year:04d}-{last.month:02d}", results, at=first_months[-1]))
    return events
