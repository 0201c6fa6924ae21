"""The interaction log: every touch with a customer."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.models import Interaction
from services.customers.schemas import InteractionCreate
from services.customers.use_cases.customers import get_active_customer, get_customer
from shared.bus.outbox import add_event
from shared.db.types import utcnow
from shared.events.contracts import customers as events
from shared.http.history import happened_at
from shared.http.pagination import PageParams, time_id_cursor, time_id_page


async def log_interaction(session: AsyncSession, *, customer_id: str, data: InteractionCreate,
                          actor: str) -> Interaction:
    # Locked: logged during a merge it would land on the retired duplicate, during an erasure it
    # would keep its summary. Waiting for either, it sees the outcome (409 / 410).
    customer = await get_active_customer(session, customer_id=customer_id, for_update=True)
    occurred_at = happened_at(data.occurred_at, now=utcnow(), field="occurred_at")
    interaction = Interaction(customer_id=customer.id, channel=data.channel, direction=data.direction,
                              employee_id=data.employee_id, summary=data.summary, outcome=data.outcome,
                              occurred_at=occurred_at, recorded_by=actor)
    session.add(interaction)
    await session.flush()
    add_event(session, events.InteractionLoggedV2(
        interaction_id=interaction.id, customer_id=customer.id, channel=interaction.channel,
        direction=interaction.direction, employee_id=interaction.employee_id, occurred_at=interaction.occurred_at),
        aggregate_id=interaction.id, customer_id=customer.id)
    return interaction


async def list_interactions(session: AsyncSession, *, customer_id: str,
                            page: PageParams) -> tuple[list[Interaction], str | None]:
    """Most recent first."""
    await get_customer(session, customer_id=customer_id)
    query = select(Interaction).where(Interaction.customer_id == customer_id)
    if page.cursor:
        cursor = time_id_cursor(page.cursor, "occurred_at")
        query = query.where(or_(Interaction.occurred_at < cursor[0],
                                and_(Interaction.occurred_at == cursor[0], Interaction.id < cursor[1])))
    rows = list((await session.execute(
        query.order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(page.limit + 1))).scalars())
    return time_id_page(rows, page.limit, "occurred_at")
