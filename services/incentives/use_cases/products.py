"""The catalogue replica (from the orders service's product events) and the effective-dated weights."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.incentives.errors import ProductNotFound
from services.incentives.models import ContributionLine, Product, ProductWeight, new_id
from services.incentives.rules.contribution import NEUTRAL, WeightInForce, weight_at
from services.incentives.rules.periods import day_starts_at, local_date, tomorrow
from services.incentives.schemas import ProductPublic, WeightPublic, WeightSet
from services.incentives.use_cases.common import insert_for
from shared.bus.outbox import add_event
from shared.events.contracts import incentives as events
from shared.events.contracts import orders as order_events
from shared.http.errors import Unprocessable
from shared.http.pagination import PageParams, cursor_value, encode_cursor

WEIGHT_QUANTUM = Decimal("0.0001")  # weights are stored with four decimals


async def apply_product(session: AsyncSession, *, product: order_events.ProductSnapshot, state_at: datetime) -> None:
    """Upsert the replica; an event older than what the row holds changes nothing (events of one
    product share a partition, but a replayed dead letter may come late)."""
    values = {"product_id": product.product_id, "sku": product.sku, "name": product.name,
              "category": product.category, "active": product.active, "state_at": state_at, "updated_at": state_at}
    statement = insert_for(session)(Product).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["product_id"], set_={k: statement.excluded[k] for k in values if k != "product_id"},
        where=Product.state_at <= statement.excluded.state_at)
    await session.execute(statement)


async def get_product(session: AsyncSession, *, product_id: str) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise ProductNotFound(product_id)
    return product


def _version(row: ProductWeight) -> WeightInForce:
    return WeightInForce(weight=row.weight, locomotive=row.locomotive, effective_at=row.effective_at)


async def weight_histories(session: AsyncSession, product_ids: Iterable[str]) -> dict[str, list[WeightInForce]]:
    wanted = sorted(set(product_ids))
    histories: dict[str, list[WeightInForce]] = {pid: [] for pid in wanted}
    if wanted:
        rows = (await session.execute(select(ProductWeight).where(ProductWeight.product_id.in_(wanted))
                                      .order_by(ProductWeight.effective_at))).scalars()
        for row in rows:
            histories[row.product_id].append(_version(row))
    return histories


async def set_weight(session: AsyncSession, *, product_id: str, data: WeightSet, actor: str, now: datetime,
                     zone: Any) -> ProductWeight:
    """Set a weight and locomotive flag from a date on: by default tomorrow, never retroactively.

    An earlier date (today or in the past) is accepted only while no sale of the product has been
    counted since that date: it then changes no figure anyone has seen, and it is how the weights of
    an imported history (the demo company, a migration) are set before that history's orders arrive.
    Once a sale is counted, the earliest date is tomorrow again: sales already counted keep the weight
    they were paid with. A second change for the same date replaces that scheduled change."""
    product = await get_product(session, product_id=product_id)
    earliest = tomorrow(now, zone)
    effective_from = data.effective_from or earliest
    if data.weight <= 0:
        raise Unprocessable("a weight is positive (1 is neutral)", field="weight")
    effective_at = day_starts_at(effective_from, zone)
    if effective_from < earliest:
        counted_since = (await session.execute(
            select(ContributionLine.happened_at).where(ContributionLine.product_id == product_id,
                                                       ContributionLine.happened_at >= effective_at)
            .order_by(ContributionLine.happened_at).limit(1))).scalar_one_or_none()
        if counted_since is not None:
            raise Unprocessable(
                f"a weight change is never retroactive: a sale of this product was counted on "
                f"{local_date(counted_since, zone)}, so effective_from must be {earliest} or later (sales already "
                f"counted keep the weight they were paid with)", field="effective_from", earliest=str(earliest))
    weight = data.weight.quantize(WEIGHT_QUANTUM)
    # Only changes already in force or scheduled earlier matter for "previous"; locked so two
    # concurrent changes of one product announce consistent previous values.
    earlier = list((await session.execute(
        select(ProductWeight).where(ProductWeight.product_id == product_id, ProductWeight.effective_at < effective_at)
        .order_by(ProductWeight.effective_at.desc()).limit(1).with_for_update())).scalars())
    values = {"product_id": product_id, "effective_from": effective_from, "effective_at": effective_at,
              "weight": weight, "locomotive": data.locomotive, "set_by": actor, "set_at": now}
    statement = insert_for(session)(ProductWeight).values(id=new_id(),
                                                          **values)
    statement = statement.on_conflict_do_update(
        index_elements=["product_id", "effective_from"],
        set_={k: statement.excluded[k] for k in ("weight", "locomotive", "set_by", "set_at")})
    await session.execute(statement)
    previous = earlier[0] if earlier else None
    add_event(session, events.ProductWeightSetV1(
        product_id=product_id, category=product.category, weight=weight, locomotive=data.locomotive,
        effective_from=effective_from, effective_at=effective_at,
        previous_weight=previous.weight if previous else None,
        previous_locomotive=previous.locomotive if previous else None, set_by=actor, set_at=now),
        aggregate_id=product_id, occurred_at=now)
    return ProductWeight(**values)


def weight_public(product_id: str, row: ProductWeight | None) -> WeightPublic:
    if row is None:
        return WeightPublic(product_id=product_id, weight=NEUTRAL.weight, locomotive=False, effective_from=None,
                            effective_at=None)
    return WeightPublic(product_id=product_id, weight=row.weight, locomotive=row.locomotive,
                        effective_from=row.effective_from, effective_at=row.effective_at, set_by=row.set_by,
                        set_at=row.set_at)


async def list_products(session: AsyncSession, *, page: PageParams, now: datetime, category: str | None = None,
                        locomotive: bool | None = None) -> tuple[list[ProductPublic], str | None]:
    """Products by id with the weight in force now and the next scheduled change.

    With the ``locomotive`` filter the page may hold fewer rows than asked (the flag is resolved per
    instant, not stored); the cursor still moves on, so every product is seen once."""
    query = select(Product)
    if category:
        query = query.where(Product.category == category.strip().lower())
    if page.cursor:
        query = query.where(Product.product_id > cursor_value(page.cursor, "product_id"))
    rows = list((await session.execute(query.order_by(Product.product_id).limit(page.limit + 1))).scalars())
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        next_cursor = encode_cursor({"product_id": rows[-1].product_id})
    weights: dict[str, list[ProductWeight]] = {p.product_id: [] for p in rows}
    if rows:
        for w in (await session.execute(select(ProductWeight).where(ProductWeight.product_id.in_(list(weights)))
                                        .order_by(ProductWeight.effective_at))).scalars():
            weights[w.product_id].append(w)
    items = []
    for product in rows:
        history = weights[product.product_id]
        current = next((w for w in reversed(history) if w.effective_at <= now), None)
        upcoming = next((w for w in history if w.effective_at > now), None)
        in_force = _version(current) if current else NEUTRAL
        if locomotive is not None and in_force.locomotive != locomotive:
            continue
        items.append(ProductPublic(
            product_id=product.product_id, sku=product.sku, name=product.name, category=product.category,
            active=product.active, weight=in_force.weight, locomotive=in_force.locomotive,
            weight_effective_from=current.effective_from if current else None,
            next_change=weight_public(product.product_id, upcoming) if upcoming else None))
    return items, next_cursor


async def weight_history(session: AsyncSession, *, product_id: str) -> list[ProductWeight]:
    """Every change, the latest effective date first."""
    await get_product(session, product_id=product_id)
    return list((await session.execute(select(ProductWeight).where(ProductWeight.product_id == product_id)
                                       .order_by(ProductWeight.effective_at.desc()))).scalars())


def in_force(histories: dict[str, list[WeightInForce]], product_id: str, at: datetime) -> WeightInForce:
    return weight_at(histories.get(product_id, []), at)
