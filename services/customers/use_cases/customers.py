"""Customer profiles: reading them, registering at first contact, changing them, merging duplicates.

Also what every use case that writes to a customer shares: loading the record with the right lock
(``get_active_customer``), counting its revision, publishing its snapshot.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers import identity
from services.customers.models import (
    Consent,
    ConsentChange,
    Consultation,
    Customer,
    CustomerIdentifier,
    CustomerTag,
    Interaction,
    ManagerAssignment,
)
from services.customers.schemas import CustomerCreate, CustomerPublic, CustomerUpdate
from services.customers.use_cases import follow_ups
from shared.bus.outbox import add_event
from shared.db.types import utcnow
from shared.events.contracts import customers as events
from shared.http.errors import Conflict, Gone, NotFound, Unprocessable
from shared.http.history import happened_at


async def get_customer(session: AsyncSession, *, customer_id: str, for_update: bool = False) -> Customer:
    """The customer, whatever its status, or NotFound; ``for_update`` locks its row to the commit."""
    customer = await session.get(Customer, customer_id, with_for_update=for_update or None,
                                 populate_existing=for_update)
    if customer is None:
        raise NotFound(f"no customer {customer_id}", customer_id=customer_id)
    return customer


async def get_active_customer(session: AsyncSession, *, customer_id: str, for_update: bool = False) -> Customer:
    """The customer if it can still be changed: merged ones point to their survivor, erased ones are gone.

    Anything written for the customer (its own row, or rows that hang off it) takes ``for_update``:
    a merge or erasure in progress is then waited for and its outcome seen, never written past.
    """
    customer = await session.get(Customer, customer_id, with_for_update=for_update or None,
                                 populate_existing=for_update)
    if customer is None:
        raise NotFound(f"no customer {customer_id}", customer_id=customer_id)
    if customer.status == "merged":
        raise Conflict(f"customer {customer_id} was merged into {customer.merged_into_id}",
                       customer_id=customer_id, survivor_id=customer.merged_into_id)
    if customer.status == "erased":
        raise Gone(f"customer {customer_id} was erased on request", customer_id=customer_id)
    return customer


async def tags_of(session: AsyncSession, customer_ids: list[str]) -> dict[str, list[str]]:
    rows = (await session.execute(
        select(CustomerTag.customer_id, CustomerTag.tag).where(CustomerTag.customer_id.in_(customer_ids))
        .order_by(CustomerTag.tag)
    )).all()
    result: dict[str, list[str]] = {cid: [] for cid in customer_ids}
    for customer_id, tag in rows:
        result[customer_id].append(tag)
    return result


async def consents_of(session: AsyncSession, customer_ids: list[str]) -> dict[str, dict[str, bool]]:
    rows = (await session.execute(
        select(Consent.customer_id, Consent.channel, Consent.granted).where(Consent.customer_id.in_(customer_ids))
    )).all()
    result: dict[str, dict[str, bool]] = {cid: {} for cid in customer_ids}
    for customer_id, channel, granted in rows:
        result[customer_id][channel] = granted
    return result


async def to_public(session: AsyncSession, customers: list[Customer]) -> list[CustomerPublic]:
    ids = [c.id for c in customers]
    tags, consents = await tags_of(session, ids), await consents_of(session, ids)
    return [
        CustomerPublic.model_validate({**c.model_dump(), "tags": tags[c.id], "consents": consents[c.id]})
        for c in customers
    ]


def _normalised_identifiers(*, emails: list[str], phones: list[str], tax_id: str | None,
                            default_region: str) -> tuple[list[str], list[str], str | None]:
    clean_emails = list(dict.fromkeys(identity.normalise_email(e) for e in emails))
    clean_phones = list(dict.fromkeys(identity.normalise_phone(p, default_region=default_region) for p in phones))
    clean_tax = identity.normalise_tax_id(tax_id) if tax_id else None
    return clean_emails, clean_phones, clean_tax


def _identifier_pairs(emails: list[str], phones: list[str], tax_id: str | None) -> list[tuple[str, str]]:
    pairs = [("email", e) for e in emails] + [("phone", p) for p in phones]
    if tax_id:
        pairs.append(("tax_id", tax_id))
    return pairs


async def _refuse_duplicates(session: AsyncSession, pairs: list[tuple[str, str]], *, own_id: str | None) -> None:
    if not pairs:
        return
    condition = or_(*(and_(CustomerIdentifier.kind == k, CustomerIdentifier.value == v) for k, v in pairs))
    existing = (await session.execute(select(CustomerIdentifier).where(condition))).scalars().all()
    clashes = [row for row in existing if row.customer_id != own_id]
    if clashes:
        first = clashes[0]
        raise Conflict(
            f"a customer with this {first.kind.replace('_', ' ')} already exists: {first.customer_id}",
            existing_customer_id=first.customer_id,
            matched=[{"kind": row.kind, "value": row.value} for row in clashes],
        )


async def _store_identifiers(session: AsyncSession, customer_id: str, pairs: list[tuple[str, str]]) -> None:
    """Insert identifier rows; a concurrent registration of the same identifier loses here."""
    try:
        async with session.begin_nested():
            # Always in one order: two requests naming the same identifiers in opposite orders
            # would otherwise wait on each other's rows (a deadlock, answered as a 500).
            session.add_all(CustomerIdentifier(kind=k, value=v, customer_id=customer_id) for k, v in sorted(pairs))
            await session.flush()
    except IntegrityError:
        await _refuse_duplicates(session, pairs, own_id=customer_id)
        raise


async def _replace_tags(session: AsyncSession, customer_id: str, tags: list[str]) -> None:
    await session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer_id))
    session.add_all(CustomerTag(customer_id=customer_id, tag=t) for t in dict.fromkeys(tags))


def _facts(customer: Customer) -> dict[str, Any]:
    """What the events tell about a customer: no name, contact, tag or free text (topics outlive erasure)."""
    return {"customer_id": customer.id, "kind": customer.kind, "segment": customer.segment,
            "status": customer.status, "manager_id": customer.manager_id,
            "preferred_channel": customer.preferred_channel, "created_at": customer.created_at,
            "revision": customer.revision}


def next_revision(customer: Customer) -> int:
    """Count one more change of the record; the caller holds its row lock (or just created it)."""
    customer.revision = (customer.revision or 0) + 1
    return customer.revision


async def publish_updated(session: AsyncSession, customer: Customer, changed: list[str]) -> None:
    """Publish the customer's new snapshot under the next revision. The row must be locked."""
    next_revision(customer)
    session.add(customer)
    await session.flush()
    add_event(session, events.CustomerUpdatedV2(**_facts(customer), changed_fields=sorted(changed)),
              aggregate_id=customer.id, customer_id=customer.id)


async def register_customer(session: AsyncSession, *, data: CustomerCreate, default_region: str) -> Customer:
    """Create a customer at first contact; refuse one that is already known by e-mail, phone or tax id."""
    emails, phones, tax_id = _normalised_identifiers(emails=[str(e) for e in data.emails], phones=data.phones,
                                                     tax_id=data.tax_id, default_region=default_region)
    if data.preferred_channel:
        raise Unprocessable("set the preferred channel together with the consents (PUT .../consents)",
                            field="preferred_channel")
    registered_at = happened_at(data.registered_at, now=utcnow(), field="registered_at")
    pairs = _identifier_pairs(emails, phones, tax_id)
    await _refuse_duplicates(session, pairs, own_id=None)
    customer = Customer(
        revision=1, kind=data.kind, name=data.name, emails=emails, phones=phones, tax_id=tax_id,
        address=data.address.model_dump() if data.address else None, segment=data.segment, source=data.source,
        first_contact_channel=data.first_contact_channel, notes=data.notes,
        search_text=identity.search_text(name=data.name, emails=emails, phones=phones),
        # An imported customer keeps the date of its first registration (the events say so too).
        **({"created_at": registered_at} if data.registered_at is not None else {}),
    )
    session.add(customer)
    await session.flush()
    await _store_identifiers(session, customer.id, pairs)
    await _replace_tags(session, customer.id, data.tags)
    add_event(session, events.CustomerRegisteredV2(**_facts(customer),
                                                   first_contact_channel=customer.first_contact_channel),
              aggregate_id=customer.id, customer_id=customer.id, occurred_at=customer.created_at)
    return customer


async def update_customer(session: AsyncSession, *, customer_id: str, data: CustomerUpdate,
                          default_region: str) -> Customer:
    customer = await get_active_customer(session, customer_id=customer_id, for_update=True)
    fields = data.model_fields_set
    changed: list[str] = []
    if fields & {"emails", "phones", "tax_id"}:
        emails, phones, tax_id = _normalised_identifiers(
            emails=[str(e) for e in data.emails] if "emails" in fields else customer.emails,
            phones=data.phones if "phones" in fields else customer.phones,
            tax_id=data.tax_id if "tax_id" in fields else customer.tax_id,
            default_region=default_region,
        )
        kind = data.kind if "kind" in fields and data.kind else customer.kind
        if tax_id and kind != "company":
            raise Unprocessable("a tax id is recorded for companies only", field="tax_id")
        pairs = _identifier_pairs(emails, phones, tax_id)
        if not pairs:
            raise Unprocessable("a customer keeps at least one e-mail, phone or tax id")
        await _refuse_duplicates(session, pairs, own_id=customer.id)
        await session.execute(delete(CustomerIdentifier).where(CustomerIdentifier.customer_id == customer.id))
        await _store_identifiers(session, customer.id, pairs)
        for name, value in (("emails", emails), ("phones", phones), ("tax_id", tax_id)):
            if getattr(customer, name) != value:
                setattr(customer, name, value)
                changed.append(name)
    if "preferred_channel" in fields and data.preferred_channel != customer.preferred_channel:
        if data.preferred_channel is not None:
            consents = (await consents_of(session, [customer.id]))[customer.id]
            if not consents.get(data.preferred_channel):
                raise Unprocessable(f"the customer has not consented to {data.preferred_channel}",
                                    field="preferred_channel")
        customer.preferred_channel = data.preferred_channel
        changed.append("preferred_channel")
    for name in ("kind", "name", "segment", "source", "notes"):
        if name in fields and getattr(data, name) != getattr(customer, name):
            setattr(customer, name, getattr(data, name))
            changed.append(name)
    if "address" in fields:
        address = data.address.model_dump() if data.address else None
        if address != customer.address:
            customer.address = address
            changed.append("address")
    if "tags" in fields:
        current = (await tags_of(session, [customer.id]))[customer.id]
        wanted = sorted(dict.fromkeys(data.tags or []))
        if wanted != current:
            await _replace_tags(session, customer.id, wanted)
            changed.append("tags")
    if customer.kind != "company" and customer.tax_id:
        raise Unprocessable("a tax id is recorded for companies only", field="kind")
    if changed:
        customer.search_text = identity.search_text(name=customer.name, emails=customer.emails,
                                                    phones=customer.phones)
        customer.updated_at = utcnow()
        session.add(customer)
        await session.flush()
        await publish_updated(session, customer, changed)
    return customer


async def merge_customers(session: AsyncSession, *, survivor_id: str, duplicate_id: str) -> Customer:
    """Fold ``duplicate_id`` into ``survivor_id``: the duplicate is retired and points at the survivor."""
    if survivor_id == duplicate_id:
        raise Unprocessable("a customer cannot be merged into itself", field="duplicate_id")
    # Lock both rows in id order so two opposite merges cannot deadlock.
    first, second = sorted([survivor_id, duplicate_id])
    await get_active_customer(session, customer_id=first, for_update=True)
    await get_active_customer(session, customer_id=second, for_update=True)
    survivor = await get_active_customer(session, customer_id=survivor_id)
    duplicate = await get_active_customer(session, customer_id=duplicate_id)
    if survivor.tax_id and duplicate.tax_id and survivor.tax_id != duplicate.tax_id:
        raise Conflict("the two customers have different tax ids; they are different companies",
                       survivor_tax_id=survivor.tax_id, duplicate_tax_id=duplicate.tax_id)
    if duplicate.tax_id and survivor.kind != "company":
        # A tax id is recorded for companies only: the company must be the survivor.
        raise Conflict("a person cannot take over a company's tax id; merge the person into the company",
                       survivor_id=survivor.id, duplicate_id=duplicate.id)
    now = utcnow()

    survivor.emails = list(dict.fromkeys(survivor.emails + duplicate.emails))
    survivor.phones = list(dict.fromkeys(survivor.phones + duplicate.phones))
    survivor.tax_id = survivor.tax_id or duplicate.tax_id
    survivor_had_manager = survivor.manager_id is not None
    for name in ("address", "segment", "source", "first_contact_channel", "manager_id"):
        if getattr(survivor, name) is None and getattr(duplicate, name) is not None:
            setattr(survivor, name, getattr(duplicate, name))
    if duplicate.notes:
        survivor.notes = "\n\n".join(filter(None, [survivor.notes, f"[merged from {duplicate.id}] {duplicate.notes}"]))
    survivor.created_at = min(survivor.created_at, duplicate.created_at)
    survivor.search_text = identity.search_text(name=survivor.name, emails=survivor.emails, phones=survivor.phones)
    survivor.updated_at = now

    await session.execute(update(CustomerIdentifier).where(CustomerIdentifier.customer_id == duplicate.id)
                          .values(customer_id=survivor.id))
    tags = await tags_of(session, [survivor.id, duplicate.id])
    await _replace_tags(session, survivor.id, sorted(set(tags[survivor.id]) | set(tags[duplicate.id])))
    await session.execute(delete(CustomerTag).where(CustomerTag.customer_id == duplicate.id))
    # Consent is the survivor's where it has said something; the duplicate's fills the gaps.
    consents = await consents_of(session, [survivor.id, duplicate.id])
    for channel, granted in consents[duplicate.id].items():
        if channel not in consents[survivor.id]:
            session.add(Consent(customer_id=survivor.id, channel=channel, granted=granted, updated_at=now))
    await session.execute(delete(Consent).where(Consent.customer_id == duplicate.id))
    merged_consents = {**consents[duplicate.id], **consents[survivor.id]}
    # The duplicate's preference is taken only where the merged consents still allow it.
    if survivor.preferred_channel is None and merged_consents.get(duplicate.preferred_channel or ""):
        survivor.preferred_channel = duplicate.preferred_channel
    if survivor_had_manager:
        # The survivor keeps its manager: the duplicate's assignment ends here, so the history
        # never shows two current managers.
        await session.execute(update(ManagerAssignment)
                              .where(ManagerAssignment.customer_id == duplicate.id,
                                     ManagerAssignment.ended_at.is_(None))
                              .values(ended_at=now))
    await follow_ups.before_merge(session, survivor_id=survivor.id, duplicate_id=duplicate.id, now=now)
    for model in (ConsentChange, Interaction, Consultation, ManagerAssignment):
        await session.execute(update(model).where(model.customer_id == duplicate.id).values(customer_id=survivor.id))

    duplicate.status = "merged"
    duplicate.merged_into_id = survivor.id
    duplicate.updated_at = now
    next_revision(duplicate)
    session.add_all([survivor, duplicate])
    await session.flush()
    # Keyed by the duplicate: it follows the duplicate's earlier events on their partition.
    add_event(session, events.CustomerMergedV1(survivor_id=survivor.id, merged_id=duplicate.id, merged_at=now,
                                               revision=duplicate.revision),
              aggregate_id=duplicate.id, customer_id=duplicate.id)
    await publish_updated(session, survivor, ["merged"])
    return survivor
