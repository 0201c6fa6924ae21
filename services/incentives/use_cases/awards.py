"""Awards: material (cash, a gift from the catalogue) and non-material (public recognition)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.incentives.errors import GiftNotFound
from services.incentives.models import Award, Gift
from services.incentives.schemas import AwardCreate
from services.incentives.use_cases.common import insert_for, parse_period, require_open
from services.incentives.use_cases.employees import require_known
from services.incentives.use_cases.gifts import enforce_policy
from shared.bus.outbox import add_event
from shared.events.contracts import incentives as events
from shared.http.errors import Unprocessable
from shared.http.pagination import PageParams, time_id_cursor, time_id_page


def award_event(award: Award) -> events.AwardGrantedV1:
    return events.AwardGrantedV1(
        award_id=award.id, employee_id=award.employee_id, period=award.period, kind=award.kind,  # type: ignore[arg-type]
        amount=award.amount, currency=award.currency, gift_id=award.gift_id, gift_name=award.gift_name,
        title=award.title, citation=award.citation, source=award.source, granted_by=award.granted_by,  # type: ignore[arg-type]
        granted_at=award.granted_at)


async def insert_awards(session: AsyncSession, awards: list[Award]) -> None:
    """Write the awards (one Core statement) and announce each."""
    if not awards:
        return
    await session.execute(insert_for(session)(Award).values([a.model_dump() for a in awards]))
    for award in awards:
        add_event(session, award_event(award), aggregate_id=award.employee_id, occurred_at=award.granted_at)


async def grant_award(session: AsyncSession, *, data: AwardCreate, actor: str, now: datetime,
                      currency: str) -> Award:
    period = parse_period(data.period)
    await require_open(session, period, action="granting an award for it")
    await require_known(session, [data.employee_id], field="employee_id")
    values: dict[str, Any] = {"employee_id": data.employee_id, "period": str(period), "kind": data.kind,
                              "citation": data.citation, "source": "manual", "granted_by": actor, "granted_at": now}
    if data.kind == "cash":
        values.update(amount=data.amount, currency=currency)
    elif data.kind == "gift":
        assert data.gift_id is not None
        gift = await session.get(Gift, data.gift_id)
        if gift is None:
            raise Unprocessable(str(GiftNotFound(data.gift_id)), field="gift_id", gift_id=data.gift_id)
        if not gift.active:
            raise Unprocessable(f"gift {gift.id} was withdrawn from the catalogue", field="gift_id", gift_id=gift.id)
        # The rule again: the word list may have grown since the gift was filed.
        enforce_policy(category=gift.category, name=gift.name, description=gift.description)
        values.update(gift_id=gift.id, gift_name=gift.name, amount=gift.value, currency=gift.currency)
    else:
        values.update(title=data.title)
    award = Award(**values)
    await insert_awards(session, [award])
    return award


async def list_awards(session: AsyncSession, *, page: PageParams, period: str | None = None,
                      employee_id: str | None = None, kind: str | None = None) -> tuple[list[Award], str | None]:
    """Newest first; the cursor is the (granted_at, id) of the last award returned."""
    query = select(Award)
    if period is not None:
        query = query.where(Award.period == str(parse_period(period)))
    if employee_id:
        query = query.where(Award.employee_id == employee_id)
    if kind:
        query = query.where(Award.kind == kind)
    if page.cursor:
        after_at, after_id = time_id_cursor(page.cursor, "granted_at")
        query = query.where(or_(Award.granted_at < after_at, and_(Award.granted_at == after_at, Award.id < after_id)))
    rows = (await session.execute(query.order_by(Award.granted_at.desc(), Award.id.desc())
                                  .limit(page.limit + 1))).scalars().all()
    return time_id_page(rows, page.limit, "granted_at")
