"""What the use cases share: dialect-aware upserts and the period lock every write to a period takes.

The period lock: each period with figures has a ``period_state`` row. Whatever writes figures into
a period (a counted line, a quality measure, a plan, an award, a bonus policy effective from it)
first takes that row ``FOR SHARE``; the close takes it ``FOR UPDATE``. So a write either commits
before the close reads the figures (and is in them), or waits and then sees the period closed
(and goes to the next open period, or is refused with a 409). On SQLite every write transaction
is serialised anyway (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.incentives.errors import InvalidPeriod, PeriodClosed
from services.incentives.models import PeriodState
from services.incentives.rules.periods import Period, PeriodError
from shared.db.dialect import insert_for as insert_for  # re-exported for the use cases


def parse_period(text: str, field: str = "period") -> Period:
    try:
        return Period.parse(text)
    except PeriodError as exc:
        raise InvalidPeriod(str(exc), field=field) from exc


async def lock_period(session: AsyncSession, period: Period, *, exclusive: bool = False) -> PeriodState:
    """The period's row, created open if it had none, locked shared (writers) or exclusive (the close)."""
    await session.execute(insert_for(session)(PeriodState).values(period=str(period), status="open")
                          .on_conflict_do_nothing(index_elements=["period"]))
    query = select(PeriodState).where(PeriodState.period == str(period)).with_for_update(read=not exclusive)
    return (await session.execute(query.execution_options(populate_existing=True))).scalar_one()


async def counting_period(session: AsyncSession, natural: Period) -> Period:
    """Where figures that happened in ``natural`` count: there, or in the next open period after it
    when it is closed (a late event is an adjustment of the next open period, never a rewrite)."""
    period = natural
    while (await lock_period(session, period)).status == "closed":
        period = period.next()
    return period


async def require_open(session: AsyncSession, period: Period, *, action: str) -> PeriodState:
    """Share-lock an open period for a write to it; a closed one is a 409."""
    row = await lock_period(session, period)
    if row.status == "closed":
        raise PeriodClosed(str(period), action=action, next_open=str(await counting_period(session, period)))
    return row
