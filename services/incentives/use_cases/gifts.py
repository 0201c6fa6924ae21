"""The gift catalogue: only what the gift policy allows (category list and word check) gets in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.incentives.errors import GiftNotFound, GiftRefused
from services.incentives.models import Gift
from services.incentives.rules import gifts as policy
from services.incentives.schemas import GiftCreate, GiftUpdate
from shared.http.errors import Unprocessable
from shared.http.pagination import PageParams, cursor_value, encode_cursor


def enforce_policy(*, category: str, name: str, description: str | None) -> None:
    refusal = policy.check_gift(category=category, name=name, description=description)
    if refusal is not None:
        raise GiftRefused(rule=refusal.rule, field=refusal.field, matched=refusal.matched, detail=refusal.detail)


async def create_gift(session: AsyncSession, *, data: GiftCreate, actor: str, now: datetime, currency: str) -> Gift:
    enforce_policy(category=data.category, name=data.name, description=data.description)
    if data.value <= 0:
        raise Unprocessable("a gift has a positive value", field="value")
    gift = Gift(name=data.name, description=data.description, category=data.category, value=data.value,
                currency=currency, active=data.active, created_by=actor, created_at=now, updated_at=now)
    session.add(gift)
    await session.flush()
    return gift


async def get_gift(session: AsyncSession, *, gift_id: str, for_update: bool = False) -> Gift:
    gift = await session.get(Gift, gift_id, with_for_update=for_update or None, populate_existing=for_update)
    if gift is None:
        raise GiftNotFound(gift_id)
    return gift


async def update_gift(session: AsyncSession, *, gift_id: str, data: GiftUpdate, now: datetime) -> Gift:
    gift = await get_gift(session, gift_id=gift_id, for_update=True)
    for name in data.model_fields_set:
        setattr(gift, name, getattr(data, name))
    enforce_policy(category=gift.category, name=gift.name, description=gift.description)
    if gift.value <= 0:
        raise Unprocessable("a gift has a positive value", field="value")
    gift.updated_at = now
    session.add(gift)
    await session.flush()
    return gift


async def list_gifts(session: AsyncSession, *, page: PageParams, category: str | None = None,
                     active: bool | None = None) -> tuple[list[Gift], str | None]:
    """By id; the cursor is the last id returned."""
    query = select(Gift)
    if category:
        query = query.where(Gift.category == category.strip().lower())
    if active is not None:
        query = query.where(Gift.active.is_(active))
    if page.cursor:
        query = query.where(Gift.id > cursor_value(page.cursor, "id"))
    rows = list((await session.execute(query.order_by(Gift.id).limit(page.limit + 1))).scalars())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor({"id": rows[-1].id})
