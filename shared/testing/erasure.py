"""Did an erasure leave the customer's personal data readable? One check for every service.

Take the customer's personal data before the erasure, erase, then search the service's database
and the events it published from the erasure on::

    from shared.testing.erasure import PersonalData, assert_erased

    person = PersonalData.of_customer(registered)  # the customers API's answer (name, e-mails, ...)
    erased = (await customers.post(f"/customers/{cid}/erase", headers=SUPPORT)).json()
    ...                                            # wait until the service has applied the erasure
    await assert_erased(database_url, person, since=erased["erased_at"], events=event_log.records)

``assert_erased`` fails with one line per hit, naming the table, column and row key (its primary
key), or the event id and type, and which piece of personal data was found there.

What is searched:

- every column of a text-like type (strings, text, JSON) of every table of the database, found by
  reflection, so a new table or a new service needs no list. JSON stored with ``\\u`` escapes is
  searched in its decoded form too;
- the outbox rows created at or after ``since``: the events the service published (or is about to
  publish) from the erasure on. Older outbox rows are history the erasure cannot rewrite (the topic
  holds the same events); they are left out on purpose;
- the ``events`` given (envelopes, or records of ``shared.testing.events.EventLog``) whose
  ``occurred_at`` is at or after ``since``.

How it matches: case-insensitively, as substrings; phones and tax ids also by their digits, against
every run of digits in a value (separators such as spaces, dots, dashes and brackets allowed
inside a run), and a phone also by its national number without the country code, so "0812-3456-789"
in a note is found for +628123456789. The search covers the whole database, so give the erased
customer data no other row holds (a unique name, e-mail, phone, street). City, region and country
identify no one alone and would match other customers' rows: they are not searched. A value
shorter than ``MIN_TEXT`` characters (``MIN_DIGITS`` digits) cannot be searched without false hits
and is refused with ``ValueError`` (street lines and postal codes that short are skipped).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from shared.bus.tables import OutboxMessage
from shared.db.types import UTCDateTime

MIN_TEXT = 5
MIN_DIGITS = 7
_DIGIT_RUN = re.compile(r"\d[\d\s().\-/+]*\d")
_OUTBOX = sa.table(OutboxMessage.__tablename__, sa.column("id"), sa.column("event_id"), sa.column("event_type"),
                   sa.column("envelope"), sa.column("created_at", UTCDateTime))


@dataclass(frozen=True)
class Needle:
    """One piece of personal data to look for; ``label`` says which in a failure message."""

    label: str
    text: str
    digits_only: bool = False

    def found_in(self, value: str) -> bool:
        if self.digits_only:
            return any(self.text in re.sub(r"\D", "", run) for run in _DIGIT_RUN.findall(value))
        return self.text.casefold() in value.casefold()


@dataclass(frozen=True)
class PersonalData:
    """What identifies one customer: the needles the check looks for."""

    name: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    tax_id: str | None = None
    address: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # anything else that must be gone (a nickname in the notes, say)

    @classmethod
    def of_customer(cls, customer: Mapping[str, Any], *, also: Iterable[str] = ()) -> PersonalData:
        """From a customer as the customers API answers it (``CustomerPublic`` as JSON)."""
        address = customer.get("address") or {}
        lines = [address.get(part) for part in ("line1", "line2", "postal_code")]
        return cls(name=customer.get("name"), emails=tuple(customer.get("emails") or ()),
                   phones=tuple(customer.get("phones") or ()), tax_id=customer.get("tax_id"),
                   address=tuple(line for line in lines if line and len(line) >= MIN_TEXT), also=tuple(also))

    def needles(self) -> list[Needle]:
        found: list[Needle] = []
        texts = [("name", self.name), ("tax id", self.tax_id)]
        texts += [("e-mail", e) for e in self.emails] + [("address", a) for a in self.address]
        texts += [("phone", p) for p in self.phones] + [("also", a) for a in self.also]
        for label, text in texts:
            if text is None:
                continue
            if len(text.strip()) < MIN_TEXT:
                raise ValueError(f"{label} {text!r} is too short to search for without false hits")
            found.append(Needle(f"{label} {text!r}", text.strip()))
        for label, raw in [("phone", p) for p in self.phones] + [("tax id", self.tax_id)]:
            for digits in _digit_forms(raw, phone=label == "phone"):
                found.append(Needle(f"{label} {raw!r} as digits {digits}", digits, digits_only=True))
        return found


def _digit_forms(raw: str | None, *, phone: bool) -> list[str]:
    if not raw:
        return []
    forms = [re.sub(r"\D", "", raw)]
    if phone and raw.strip().startswith("+"):
        try:
            forms.append(str(phonenumbers.parse(raw).national_number))
        except phonenumbers.NumberParseException:
            pass
    forms = [f for f in dict.fromkeys(forms) if len(f) >= MIN_DIGITS]
    return forms


@dataclass(frozen=True)
class Finding:
    where: str
    needle: Needle

    def __str__(self) -> str:
        return f"{self.where}: {self.needle.label}"


def _searchable(value: Any) -> list[str]:
    """The value as text, and decoded when it is JSON (stored with \\u escapes, "é" reads "\\u00e9")."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    forms = [text]
    if text[:1] in "{[\"":
        try:
            forms.append(json.dumps(json.loads(text), ensure_ascii=False))
        except ValueError:
            pass
    return forms


def _hits(where: str, values: Mapping[str, Any], needles: list[Needle]) -> list[Finding]:
    found = []
    for column, value in values.items():
        if value is None:
            continue
        forms = _searchable(value)
        found += [Finding(f"{where}, column {column}", n) for n in needles if any(n.found_in(f) for f in forms)]
    return found


def _as_instant(value: datetime | str) -> datetime:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if instant.tzinfo is None:
        raise ValueError("since must be an aware instant (the erasure's erased_at)")
    return instant


def _table_findings(sync_conn: sa.Connection, needles: list[Needle], since: datetime) -> list[Finding]:
    inspector = sa.inspect(sync_conn)
    found: list[Finding] = []
    for table_name in sorted(inspector.get_table_names()):
        columns = inspector.get_columns(table_name)
        texts = [c["name"] for c in columns if isinstance(c["type"], sa.String | sa.JSON)]
        if not texts:
            continue
        if table_name == _OUTBOX.name:
            # Events from the erasure on; older ones are the history the topic keeps anyway.
            outbox = _OUTBOX.c
            query = sa.select(outbox.id, outbox.event_id, outbox.event_type, outbox.envelope).where(
                outbox.created_at >= since)
            for row in sync_conn.execute(query).mappings():
                where = f"event {row['event_id']} ({row['event_type']}) in table {_OUTBOX.name}, row id={row['id']}"
                found += _hits(where, {"envelope": row["envelope"]}, needles)
            continue
        keys = inspector.get_pk_constraint(table_name).get("constrained_columns") or []
        table = sa.table(table_name, *(sa.column(name) for name in dict.fromkeys([*keys, *texts])))
        query = sa.select(*(table.c[k].label(f"key_{i}") for i, k in enumerate(keys)),
                          *(sa.cast(table.c[t], sa.Text).label(f"text_{i}") for i, t in enumerate(texts)))
        for number, row in enumerate(sync_conn.execute(query).mappings()):
            key = ", ".join(f"{k}={row[f'key_{i}']!r}" for i, k in enumerate(keys)) if keys else f"#{number}"
            found += _hits(f"table {table_name}, row {key}", {t: row[f"text_{i}"] for i, t in enumerate(texts)},
                           needles)
    return found


def _event_findings(events: Iterable[Any], needles: list[Needle], since: datetime) -> list[Finding]:
    found: list[Finding] = []
    for event in events:
        envelope = getattr(event, "envelope", event)
        if _as_instant(envelope["occurred_at"]) < since:
            continue
        where = f"event {envelope.get('event_id')} ({envelope.get('type')}) on the topic"
        found += _hits(where, {"envelope": envelope}, needles)
    return found


async def find_personal_data(database_url: str, person: PersonalData, *, since: datetime | str,
                             events: Iterable[Any] = ()) -> list[Finding]:
    """Every place where ``person``'s data is still readable (see the module docstring)."""
    needles = person.needles()
    if not needles:
        raise ValueError("nothing to search for: give the customer's name, e-mails, phones, tax id or address")
    instant = _as_instant(since)
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(_table_findings, needles, instant)
    finally:
        await engine.dispose()
    return found + _event_findings(events, needles, instant)


async def assert_erased(database_url: str, person: PersonalData, *, since: datetime | str,
                        events: Iterable[Any] = ()) -> None:
    """Fail, naming each place, if any of ``person``'s data is still readable after the erasure."""
    found = await find_personal_data(database_url, person, since=since, events=events)
    if found:
        lines = "\n".join(f"  - {finding}" for finding in found[:50])
        more = f"\n  ... and {len(found) - 50} more" if len(found) > 50 else ""
        raise AssertionError(f"personal data still readable after the erasure ({len(found)} places):\n{lines}{more}")
