"""The product catalogue: products, their price and cost periods."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders import pricing
from services.orders.errors import ProductNotFound
from services.orders.models import Product, ProductPrice
from services.orders.schemas import ProductCreate, ProductUpdate
from shared.bus.outbox import add_event
from shared.db.types import utcnow
from shared.events.contracts import orders as events
from shared.http.errors import Conflict, Unprocessable
from shared.http.pagination import PageParams, cursor_value, encode_cursor


def _money_checked(amount: Decimal, currency: str, field: str) -> Decimal:
    try:
        whole = pricing.is_whole_minor_units(amount, currency)
    except pricing.PricingError as exc:
        raise Unprocessable(str(exc), field="currency") from exc
    if not whole:
        raise Unprocessable(f"{field} must be a whole amount of {currency}'s minor unit "
                            f"({pricing.minor_digits(currency)} decimals)", field=field)
    return pricing.round_money(amount, currency)


def _product_search_text(sku: str, name: str) -> str:
    return f"{sku} {name}".lower()


def _product_event_fields(product: Product) -> dict[str, Any]:
    return {"product_id": product.id, "sku": product.sku, "name": product.name, "category": product.category,
            "unit_price": product.unit_price, "unit_cost": product.unit_cost, "currency": product.currency,
            "active": product.active, "price_effective_at": product.price_effective_at}


async def _refuse_taken_sku(session: AsyncSession, sku: str, *, own_id: str | None) -> None:
    existing = await session.scalar(select(Product.id).where(Product.sku == sku))
    if existing is not None and existing != own_id:
        raise Conflict(f"sku {sku} is already used by product {existing}", sku=sku, existing_product_id=existing)


async def _flush_unique_sku(session: AsyncSession, sku: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent request took the sku between our check and insert
        raise Conflict(f"sku {sku} is already used by another product", sku=sku) from exc


async def create_product(session: AsyncSession, *, data: ProductCreate, actor: str, default_currency: str) -> Product:
    """Add a product to the catalogue with its first price period."""
    currency = data.currency or default_currency
    unit_price = _money_checked(data.unit_price, currency, "unit_price")
    unit_cost = _money_checked(data.unit_cost, currency, "unit_cost")
    await _refuse_taken_sku(session, data.sku, own_id=None)
    now = utcnow()
    product = Product(sku=data.sku, name=data.name, category=data.category, unit_price=unit_price,
                      unit_cost=unit_cost, currency=currency, active=data.active,
                      search_text=_product_search_text(data.sku, data.name), price_effective_at=now,
                      created_by=actor, created_at=now, updated_at=now)
    session.add(product)
    await _flush_unique_sku(session, data.sku)
    session.add(ProductPrice(product_id=product.id, unit_price=unit_price, unit_cost=unit_cost, currency=currency,
                             effective_at=now, recorded_by=actor))
    add_event(session, events.ProductCreatedV1(**_product_event_fields(product)), aggregate_id=product.id,
              occurred_at=now)
    return product


async def get_product(session: AsyncSession, *, product_id: str, for_update: bool = False) -> Product:
    product = await session.get(Product, product_id, with_for_update=for_update or None,
                                populate_existing=for_update)
    if product is None:
        raise ProductNotFound(product_id)
    return product


async def update_product(session: AsyncSession, *, product_id: str, data: ProductUpdate, actor: str) -> Product:
    """Change a product; a new price or cost closes the current price period and opens another."""
    product = await get_product(session, product_id=product_id, for_update=True)
    fields = data.model_fields_set
    changed: list[str] = []
    if "sku" in fields and data.sku != product.sku:
        assert data.sku is not None
        await _refuse_taken_sku(session, data.sku, own_id=product.id)
        product.sku = data.sku
        changed.append("sku")
    for name in ("unit_price", "unit_cost"):
        if name in fields:
            value = _money_checked(getattr(data, name), product.currency, name)
            if value != getattr(product, name):
                setattr(product, name, value)
                changed.append(name)
    for name in ("name", "category", "active"):
        if name in fields and getattr(data, name) != getattr(product, name):
            setattr(product, name, getattr(data, name))
            changed.append(name)
    if not changed:
        return product
    now = utcnow()
    if {"unit_price", "unit_cost"} & set(changed):
        product.price_effective_at = now
        session.add(ProductPrice(product_id=product.id, unit_price=product.unit_price,
                                 unit_cost=product.unit_cost, currency=product.currency, effective_at=now,
                                 recorded_by=actor))
    product.search_text = _product_search_text(product.sku, product.name)
    product.updated_at = now
    session.add(product)
    await _flush_unique_sku(session, product.sku)
    add_event(session, events.ProductUpdatedV1(**_product_event_fields(product), changed_fields=sorted(changed)),
              aggregate_id=product.id, occurred_at=now)
    return product


async def list_products(session: AsyncSession, *, page: PageParams, category: str | None = None,
                        active: bool | None = None, search: str | None = None) -> tuple[list[Product], str | None]:
    """By sku; the cursor is the last sku returned."""
    query = select(Product)
    if category:
        query = query.where(Product.category == category.strip().lower())
    if active is not None:
        query = query.where(Product.active.is_(active))
    if search:
        needle = search.strip().lower()
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Product.search_text.like(pattern, escape="\\"))
    if page.cursor:
        query = query.where(Product.sku > cursor_value(page.cursor, "sku"))
    rows = list((await session.execute(query.order_by(Product.sku).limit(page.limit + 1))).scalars())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor({"sku": rows[-1].sku})


async def price_history(session: AsyncSession, *, product_id: str) -> list[ProductPrice]:
    """Price and cost periods, the current one first."""
    await get_product(session, product_id=product_id)
    return list((await session.execute(
        select(ProductPrice).where(ProductPrice.product_id == product_id)
        .order_by(ProductPrice.effective_at.desc(), ProductPrice.id)
    )).scalars())
