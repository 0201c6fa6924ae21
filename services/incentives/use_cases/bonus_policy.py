"""The bonus policy: versions, each in force from a period on until a later version takes over."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.incentives.errors import PeriodClosed
from services.incentives.models import BonusPolicyVersion, PeriodState
from services.incentives.rules import bonus as rules
from services.incentives.rules.periods import Period
from services.incentives.schemas import BonusPolicyPut
from services.incentives.use_cases.common import counting_period, lock_period, parse_period
from shared.http.errors import Conflict, NotFound, Unprocessable


def to_rules(row: BonusPolicyVersion) -> rules.BonusPolicy:
    return rules.BonusPolicy(
        version=row.version, rate_per_point=row.rate_per_point, min_fulfilment_percent=row.min_fulfilment_percent,
        accelerators=tuple(rules.AcceleratorTier(Decimal(t["above_percent"]), Decimal(t["multiplier"]))
                           for t in row.accelerators),
        quality=rules.QualityRule(**{k: Decimal(v) for k, v in row.quality.items()}), cap=row.cap)


async def policy_in_force(session: AsyncSession, *, period: Period) -> BonusPolicyVersion | None:
    return (await session.execute(
        select(BonusPolicyVersion).where(BonusPolicyVersion.effective_from <= str(period))
        .order_by(BonusPolicyVersion.effective_from.desc(), BonusPolicyVersion.version.desc()).limit(1)
    )).scalar_one_or_none()


async def get_policy(session: AsyncSession, *, period_text: str) -> BonusPolicyVersion:
    period = parse_period(period_text)
    row = await policy_in_force(session, period=period)
    if row is None:
        raise NotFound(f"no bonus policy is in force for {period}: an admin sets one with PUT /bonus-policy",
                       period=str(period))
    return row


async def list_versions(session: AsyncSession) -> list[BonusPolicyVersion]:
    return list((await session.execute(select(BonusPolicyVersion).order_by(BonusPolicyVersion.version.desc())
                                       .limit(500))).scalars())


async def put_policy(session: AsyncSession, *, data: BonusPolicyPut, actor: str, now: datetime,
                     currency: str) -> BonusPolicyVersion:
    """A new version in force from ``effective_from`` on; never for a period already closed."""
    start = parse_period(data.effective_from, field="effective_from")
    tiers = [rules.AcceleratorTier(t.above_percent, t.multiplier) for t in data.accelerators]
    quality = rules.QualityRule(**data.quality.model_dump())
    try:
        rules.check_tiers(tiers)
        rules.check_quality(quality)
    except rules.PolicyError as exc:
        raise Unprocessable(str(exc), field="accelerators" if "accelerator" in str(exc) else "quality") from exc
    if data.rate_per_point <= 0:
        raise Unprocessable("rate_per_point must be positive", field="rate_per_point")
    if data.cap is not None and data.cap <= 0:
        raise Unprocessable("a cap is a positive amount (leave it out for no cap)", field="cap")
    # Share-lock every period the version would apply to that has figures, so no close of one of
    # them runs meanwhile with the old version while this one commits.
    await lock_period(session, start)
    later = (await session.execute(select(PeriodState).where(PeriodState.period >= str(start))
                                   .order_by(PeriodState.period).with_for_update(read=True))).scalars().all()
    closed = [row.period for row in later if row.status == "closed"]
    if closed:
        raise PeriodClosed(closed[-1], action="a bonus policy taking effect from or before it",
                           next_open=str(await counting_period(session, Period.parse(closed[-1]))))
    version = (await session.scalar(select(func.max(BonusPolicyVersion.version)))) or 0
    row = BonusPolicyVersion(
        version=version + 1, effective_from=str(start), currency=currency, rate_per_point=data.rate_per_point,
        min_fulfilment_percent=data.min_fulfilment_percent,
        accelerators=[{"above_percent": str(t.above_percent), "multiplier": str(t.multiplier)} for t in tiers],
        quality={k: str(v) for k, v in data.quality.model_dump().items()}, cap=data.cap, created_by=actor,
        created_at=now)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("another bonus policy version was written at the same moment; send yours again",
                       field="version") from exc
    return row
