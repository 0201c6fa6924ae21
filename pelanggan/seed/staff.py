"""Phase 1: about 25 employees in incentives' staff directory (sales, account managers, support, heads)."""

from __future__ import annotations

from datetime import date, timedelta

from faker import Faker

from pelanggan.seed.randomness import random_day, rng

# (role, how many, id prefix). Explicit ids (an HR number) make a re-run find the same people.
ROSTER: tuple[tuple[str, int, str], ...] = (("head", 3, "HD"), ("sales", 8, "SL"), ("account_manager", 8, "AM"),
                                           ("support", 6, "SP"))
TEAMS = ("Jakarta", "Surabaya", "Kuala Lumpur")
MARKER_EMPLOYEE_ID = "HD-001"  # the first head: present means the company was (at least partly) seeded


def employees(seed: int, history_start: date) -> list[dict]:
    r = rng(seed, "staff")
    people = Faker("id_ID")
    people.seed_instance(r.randint(0, 2**31))
    staff: list[dict] = []
    for role, count, prefix in ROSTER:
        for number in range(1, count + 1):
            name = people.name()
            employee_id = f"{prefix}-{number:03d}"
            hired = random_day(r, history_start - timedelta(days=6 * 365), history_start - timedelta(days=30))
            staff.append({"id": employee_id, "name": name, "role": role, "team": TEAMS[(number - 1) % len(TEAMS)],
                          "email": f"{employee_id.lower()}@pelanggan-demo.example", "hired_on": hired.isoformat()})
    return staff


def ids_of(staff: list[dict], role: str) -> list[str]:
    return [e["id"] for e in staff if e["role"] == role]
