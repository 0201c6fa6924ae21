"""Phase 4: the customers, in six segments, with Indonesian and Malaysian names, addresses and contacts."""

from __future__ import annotations

import random
from datetime import date, timedelta

import phonenumbers
from faker import Faker

from pelanggan.seed.randomness import iso, random_day, rng, working_instant

# segment -> (share of the customer base, kind)
SEGMENTS: dict[str, tuple[float, str]] = {
    "wholesale": (0.05, "company"), "retail_shops": (0.22, "company"), "printing_houses": (0.10, "company"),
    "offices": (0.20, "company"), "schools": (0.11, "company"), "individuals": (0.32, "person"),
}
MANAGED = {"wholesale": 1.0, "printing_houses": 1.0, "offices": 0.9, "schools": 0.9, "retail_shops": 0.5,
           "individuals": 0.0}  # the chance that a customer of the segment has a permanent account manager
MY_CITIES = (("Kuala Lumpur", "Wilayah Persekutuan"), ("Shah Alam", "Selangor"), ("Johor Bahru", "Johor"),
             ("George Town", "Pulau Pinang"), ("Ipoh", "Perak"), ("Kota Kinabalu", "Sabah"), ("Kuching", "Sarawak"))
CHANNELS = ("phone", "email", "sms", "messenger", "post")
SOURCES = ("referral", "trade fair", "website", "walk-in", "sales visit", "marketplace")


def _company_name(r: random.Random, segment: str, people: Faker, city: str) -> str:
    last = people.last_name()
    return {
        "wholesale": f"{r.choice(('CV', 'UD', 'PT'))} {last} Grosir ATK",
        "retail_shops": f"Toko {r.choice(('ATK', 'Buku', 'Alat Tulis'))} {people.first_name()}",
        "printing_houses": f"{r.choice(('Percetakan', 'Digital Printing', 'Offset'))} {last}",
        "offices": f"PT {last} {r.choice(('Consulting', 'Logistik', 'Asuransi', 'Teknologi', 'Properti'))}",
        "schools": f"{r.choice(('SD Negeri', 'SMP Negeri', 'SMA Negeri', 'Sekolah Kebangsaan'))} "
                   f"{r.randint(1, 40)} {city}",
    }[segment]


ID_MOBILE = ("811", "812", "813", "821", "822", "852", "853", "857", "858", "878", "896")
MY_MOBILE = ("12", "13", "16", "17", "19")


def _phone(r: random.Random, country: str) -> str:
    """A mobile number of a real operator prefix (the customers service checks numbers with phonenumbers)."""
    while True:
        if country == "MY":
            number = f"+60{r.choice(MY_MOBILE)}{r.randint(1000000, 9999999)}"
        else:
            number = f"+62{r.choice(ID_MOBILE)}{r.randint(10000000, 99999999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def customers(seed: int, count: int, history_start: date, history_end: date, account_managers: list[str],
              sales: list[str]) -> list[dict]:
    r = rng(seed, "customers")
    people, malaysia = Faker("id_ID"), Faker("en_MS")
    people.seed_instance(r.randint(0, 2**31))
    malaysia.seed_instance(r.randint(0, 2**31))
    names = list(SEGMENTS)
    shares = [SEGMENTS[s][0] for s in names]
    result: list[dict] = []
    for n in range(1, count + 1):
        segment = r.choices(names, weights=shares)[0]
        kind = SEGMENTS[segment][1]
        country = "MY" if r.random() < 0.3 else "ID"
        if country == "MY":
            city, region = r.choice(MY_CITIES)
            address = {"line1": malaysia.street_address(), "city": city, "region": region,
                       "postal_code": malaysia.postcode(), "country": "MY"}
        else:
            city = people.city()
            address = {"line1": people.street_address(), "city": city, "region": people.state(),
                       "postal_code": people.postcode(), "country": "ID"}
        name = people.name() if kind == "person" else _company_name(r, segment, people, city)
        key = f"C{n:05d}"
        # The number in the address keeps e-mails unique (the customers service refuses a second customer with
        # the same e-mail), and ties a re-run's 409 to the same plan entry.
        body: dict = {"kind": kind, "name": name, "emails": [f"{key.lower()}@{segment.replace('_', '-')}.example"],
                      "phones": [_phone(r, country)], "address": address, "segment": segment,
                      "source": r.choice(SOURCES), "first_contact_channel": r.choice(CHANNELS),
                      "tags": [segment.replace("_", "-"), country.lower()]}
        if kind == "company" and r.random() < 0.6:
            body["tax_id"] = f"{r.randint(10, 99)}.{r.randint(100, 999)}.{r.randint(100, 999)}.{r.randint(0, 9)}-" \
                             f"{r.randint(100, 999)}.000"
        # Most of the base predates the history (imported from the old system), the rest joins during it.
        if r.random() < 0.6:
            registered = random_day(r, history_start - timedelta(days=3 * 365), history_start - timedelta(days=1))
        else:
            registered = random_day(r, history_start, history_end - timedelta(days=20))
        body["registered_at"] = iso(working_instant(r, registered))
        granted = {c: r.random() < p for c, p in zip(CHANNELS, (0.9, 0.8, 0.5, 0.6, 0.3), strict=True)}
        if not any(granted.values()):
            granted["phone"] = True
        consented = [c for c in CHANNELS if granted[c]]
        manager = r.choice(account_managers) if r.random() < MANAGED[segment] else None
        result.append({
            "key": key, "body": body, "segment": segment, "registered_on": registered.isoformat(),
            "consents": [{"channel": c, "granted": granted[c], "source": "signed form"} for c in CHANNELS],
            "preferred_channel": r.choice(consented), "manager_id": manager,
            # who sells to them: the manager for managed accounts, else a salesperson of the counter
            "sales_employee_id": manager or r.choice(sales),
            "activity": round(r.lognormvariate(0, 0.5), 3),  # some customers buy far more often than others
        })
    return result
