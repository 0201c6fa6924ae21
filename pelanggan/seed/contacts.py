"""Phase 6: the interaction log and the managers' follow-up consultations."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pelanggan.seed.randomness import iso, random_day, rng, working_instant

SUMMARIES = ("asked about the new price list", "follow-up on the last delivery", "quotation for next term",
             "checked stock of A4 paper", "invited to the trade fair", "payment reminder", "thanked for the order")
OUTCOMES = ("interested", "will order next month", "no answer", "quotation sent", "resolved")


def interactions(seed: int, customers: list[dict], history_start: date, now: datetime) -> list[dict]:
    r = rng(seed, "interactions")
    result: list[dict] = []
    for customer in customers:
        first = max(history_start, date.fromisoformat(customer["registered_on"]))
        granted = [c["channel"] for c in customer["consents"] if c["granted"]]
        for n in range(r.randint(0, 4)):
            at = working_instant(r, random_day(r, first, now.date() - timedelta(days=1)))
            result.append({"key": f"{customer['key']}-I{n + 1}", "customer_key": customer["key"],
                           "body": {"channel": r.choice(granted), "direction": r.choice(("in", "out")),
                                    "employee_id": customer["sales_employee_id"], "summary": r.choice(SUMMARIES),
                                    "occurred_at": iso(at), "outcome": r.choice(OUTCOMES)}})
    return result


def consultations(seed: int, customers: list[dict], history_start: date, now: datetime) -> list[dict]:
    """Consultations of managed customers: most in the past and completed, a few still on the agenda."""
    r = rng(seed, "consultations")
    result: list[dict] = []
    for customer in customers:
        if not customer["manager_id"] or r.random() < 0.5:
            continue
        first = max(history_start, date.fromisoformat(customer["registered_on"]))
        upcoming = r.random() < 0.25
        day = now.date() + timedelta(days=r.randint(1, 20)) if upcoming else random_day(r, first, now.date())
        result.append({"key": f"{customer['key']}-K1", "customer_key": customer["key"],
                       "body": {"topic": "quarterly review of the account", "due_at": iso(working_instant(r, day)),
                                "employee_id": customer["manager_id"]},
                       "outcome": None if upcoming else r.choice(("agreed a yearly paper contract",
                                                                  "customer satisfied, no changes",
                                                                  "asked for a visit of the printing specialist"))})
    return result
