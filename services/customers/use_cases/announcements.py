"""Announcements: company news delivered once to each consenting customer, on the best channel."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.channels import ChannelAdapter, address_for, channel_order
from services.customers.models import Announcement, AnnouncementDelivery, Consent, Customer
from services.customers.schemas import AnnouncementCreate
from services.customers.use_cases.customers import consents_of
from shared.bus.outbox import add_event
from shared.events.contracts import customers as events
from shared.http.errors import NotFound
from shared.http.pagination import PageParams, cursor_value, encode_cursor


async def create_announcement(session: AsyncSession, *, data: AnnouncementCreate, actor: str,
                              adapter: ChannelAdapter) -> tuple[Announcement, dict[str, int]]:
    """Resolve the audience, deliver once per customer on the best consented channel, record it all."""
    announcement = Announcement(title=data.title, body=data.body, segments=data.segments, channels=data.channels,
                                created_by=actor)
    session.add(announcement)
    await session.flush()
    query = select(Customer).where(Customer.status == "active").where(
        exists().where(and_(Consent.customer_id == Customer.id, Consent.granted.is_(True),
                            Consent.channel.in_(data.channels))))
    if data.segments:
        query = query.where(Customer.segment.in_(data.segments))
    audience = list((await session.execute(query.order_by(Customer.id))).scalars())
    consents = await consents_of(session, [c.id for c in audience]) if audience else {}
    by_channel: Counter[str] = Counter()
    failed = 0
    for customer in audience:
        candidates = channel_order(allowed=data.channels, consents=consents[customer.id],
                                   preferred=customer.preferred_channel)
        if not candidates:
            continue
        # The preferred channel first; when it cannot reach the customer (no address on file,
        # gateway refused) the next consented channel is tried.
        failures: list[str] = []
        delivered_on: str | None = None
        outcome = None
        for channel in candidates:
            outcome = await adapter.deliver(channel=channel, customer_id=customer.id,
                                            address=address_for(customer, channel), title=data.title,
                                            body=data.body)
            if outcome.ok:
                delivered_on = channel
                break
            failures.append(f"{channel}: {outcome.detail or 'failed'}")
        if delivered_on is not None and outcome is not None:
            session.add(AnnouncementDelivery(announcement_id=announcement.id, customer_id=customer.id,
                                             channel=delivered_on, status="sent", detail=_clip(outcome.detail)))
            by_channel[delivered_on] += 1
        else:
            session.add(AnnouncementDelivery(announcement_id=announcement.id, customer_id=customer.id,
                                             channel=candidates[0], status="failed",
                                             detail=_clip("; ".join(failures))))
            failed += 1
    # Everyone targeted counts in the audience, whether the delivery was sent or failed.
    announcement.sent, announcement.failed = sum(by_channel.values()), failed
    announcement.audience_size = announcement.sent + announcement.failed
    session.add(announcement)
    await session.flush()
    add_event(session, events.AnnouncementDispatchedV2(
        announcement_id=announcement.id, title=announcement.title, segments=announcement.segments,
        channels=list(announcement.channels), audience_size=announcement.audience_size, sent=announcement.sent,
        failed=announcement.failed, deliveries_by_channel=dict(by_channel), dispatched_at=announcement.created_at),
        aggregate_id=announcement.id)
    return announcement, dict(by_channel)


def _clip(detail: str | None, limit: int = 500) -> str | None:
    return detail if detail is None or len(detail) <= limit else detail[: limit - 1] + "\u2026"


async def get_announcement(session: AsyncSession, *, announcement_id: str) -> tuple[Announcement, dict[str, int]]:
    announcement = await session.get(Announcement, announcement_id)
    if announcement is None:
        raise NotFound(f"no announcement {announcement_id}", announcement_id=announcement_id)
    rows = (await session.execute(
        select(AnnouncementDelivery.channel, func.count()).where(
            AnnouncementDelivery.announcement_id == announcement_id, AnnouncementDelivery.status == "sent")
        .group_by(AnnouncementDelivery.channel))).all()
    return announcement, {channel: count for channel, count in rows}


async def list_deliveries(session: AsyncSession, *, announcement_id: str,
                          page: PageParams) -> tuple[list[AnnouncementDelivery], str | None]:
    await get_announcement(session, announcement_id=announcement_id)
    query = select(AnnouncementDelivery).where(AnnouncementDelivery.announcement_id == announcement_id)
    if page.cursor:
        query = query.where(AnnouncementDelivery.customer_id > cursor_value(page.cursor, "customer_id"))
    rows = list((await session.execute(query.order_by(AnnouncementDelivery.customer_id).limit(page.limit + 1)))
                .scalars())
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        next_cursor = encode_cursor({"customer_id": rows[-1].customer_id})
    return rows, next_cursor
