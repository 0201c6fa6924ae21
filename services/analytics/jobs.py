"""The detection job: RFM and CLV scores, demand trends, and what they publish, as data arrives.

Debounced: handlers set ``job_state.dirty_at`` when it is unset (so a busy stream touches the row
once per run); the job runs when the first change is ``detection_debounce_seconds`` old, and at
least every ``detection_refresh_seconds`` anyway (recency ages without new data).
Safe with several replicas: on PostgreSQL a run holds a session advisory lock (the other replicas
skip that tick); on SQLite, the one-machine default, one process runs one job. Publishing is claimed
by unique rows in the same transaction as the outbox event (``detected_trend``'s id, ``risk_state``'s
move from unflagged to flagged), so even two overlapping runs publish a trend or a move once.
The statistics run in a worker thread (``asyncio.to_thread``): the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.config import AnalyticsSettings
from services.analytics.models import (
    CustomerDim,
    CustomerProfit,
    CustomerScore,
    DetectedTrend,
    JobState,
    ModelFit,
    OrderFact,
    RiskState,
    SegmentDemand,
    TrendStatus,
)
from services.analytics.scoring import DemandCell, Outcome, Purchase, Snapshot, compute
from services.analytics.sql import insert_once
from services.analytics.stats.periods import local_date
from services.analytics.use_cases.ledger import DETECTION_JOB
from shared.bus.outbox import add_event
from shared.db.engine import Database
from shared.db.types import utcnow
from shared.events.contracts.analytics import CustomerAtRiskV1, TrendDetectedV1

log = logging.getLogger(__name__)
LOCK_KEY = zlib.crc32(b"pelanggan-analytics-detection")


class DetectionJob:
    def __init__(self, db: Database, settings: AnalyticsSettings, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._local = asyncio.Lock()
        self.runs = 0

    async def run_forever(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed run is logged and retried at the next tick; the job never dies
                log.exception("detection run failed")
            await asyncio.sleep(self.settings.detection_poll_seconds)

    @asynccontextmanager
    async def _claim(self) -> AsyncIterator[bool]:
        if not self.db.is_postgres:
            if self._local.locked():
                yield False
                return
            async with self._local:
                yield True
            return
        async with self.db.engine.connect() as conn:
            got = bool(await conn.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}))
            await conn.commit()
            try:
                yield got
            finally:
                if got:
                    await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                    await conn.commit()

    async def tick(self, *, force: bool = False) -> bool:
        """One look: run if there is new data old enough, or the refresh is due. True when it ran."""
        async with self._claim() as claimed:
            if not claimed:
                return False
            now = self.clock()
            job = JobState.__table__
            async with self.db.transaction() as session:
                state = (await session.execute(sa.select(job).where(job.c.name == DETECTION_JOB))).one()
                debounced = state.dirty_at is not None and now - state.dirty_at >= timedelta(
                    seconds=self.settings.detection_debounce_seconds
                )
                refresh = state.last_run_at is None or now - state.last_run_at >= timedelta(
                    seconds=self.settings.detection_refresh_seconds
                )
                if not (force or debounced or refresh):
                    return False
                # Cleared before reading: events arriving during the run mark it dirty again.
                await session.execute(
                    sa.update(job).where(job.c.name == DETECTION_JOB).values(dirty_at=None, last_run_at=now)
                )
            try:
                snapshot, context = await self._load(now)
                outcome = await asyncio.to_thread(compute, snapshot)
                async with self.db.transaction() as session:
                    await self._write(session, outcome, context, now)
            except BaseException:
                async with self.db.transaction() as session:
                    await session.execute(sa.update(job).where(job.c.name == DETECTION_JOB).values(dirty_at=now))
                raise
            self.runs += 1
            return True

    async def _load(self, now: datetime) -> tuple[Snapshot, dict[str, Any]]:
        zone = self.settings.zone
        orders = OrderFact.__table__
        demand = SegmentDemand.__table__
        profit = CustomerProfit.__table__
        dims = CustomerDim.__table__
        async with self.db.transaction() as session:
            purchase_rows = await session.execute(
                sa.select(orders.c.account_id, orders.c.paid_at, (orders.c.paid_net - orders.c.returned_net)).where(
                    orders.c.paid_at.is_not(None), orders.c.cancelled.is_(False)
                )
            )
            purchases = [Purchase(a, local_date(at, zone), int(v)) for a, at, v in purchase_rows]
            demand_rows = await session.execute(
                sa.select(
                    demand.c.granularity,
                    demand.c.segment,
                    demand.c.category,
                    demand.c.period,
                    demand.c.quantity,
                    demand.c.net,
                )
            )
            cells = [DemandCell(*row) for row in demand_rows]
            accounts = {
                r.customer_id: r
                for r in await session.execute(
                    sa.select(
                        profit.c.customer_id,
                        profit.c.segment,
                        profit.c.manager_id,
                        profit.c.last_purchase_at,
                        dims.c.status,
                    ).select_from(profit.outerjoin(dims, dims.c.customer_id == profit.c.customer_id))
                )
            }
            risks = {r.customer_id: r for r in await session.execute(sa.select(RiskState.__table__))}
        snapshot = Snapshot(
            today=local_date(now, zone),
            purchases=purchases,
            demand=cells,
            fdr=self.settings.trend_fdr,
            min_relative_change=self.settings.trend_min_relative_change,
        )
        return snapshot, {"accounts": accounts, "risks": risks}

    async def _write(self, session: AsyncSession, outcome: Outcome, context: dict[str, Any], now: datetime) -> None:
        scores = CustomerScore.__table__
        await session.execute(sa.delete(scores))
        rows = [
            {
                "customer_id": s.customer_id,
                "recency_days": s.recency_days,
                "frequency": s.frequency,
                "monetary": s.monetary,
                "r": s.r,
                "f": s.f,
                "m": s.m,
                "rfm_group": s.group,
                "p_alive": s.p_alive,
                "expected_purchases_12m": s.expected_purchases_12m,
                "expected_order_value": s.expected_order_value,
                "predicted_value_12m": s.predicted_value_12m,
                "historical_value": s.historical_value,
                "computed_at": now,
            }
            for s in outcome.scores
        ]
        for start in range(0, len(rows), 1000):
            await session.execute(sa.insert(scores).values(rows[start : start + 1000]))
        fits = ModelFit.__table__
        await session.execute(sa.delete(fits))
        if outcome.model:
            await session.execute(
                sa.insert(fits).values(
                    name="clv", params=json.dumps(outcome.model), customers=len(outcome.scores), fitted_at=now
                )
            )
        await self._write_trends(session, outcome, now)
        await self._publish_risks(session, outcome, context, now)

    async def _write_trends(self, session: AsyncSession, outcome: Outcome, now: datetime) -> None:
        status = TrendStatus.__table__
        await session.execute(sa.delete(status))
        rows = [
            {
                "segment": t.segment,
                "category": t.category,
                "granularity": t.granularity,
                "measure": t.measure,
                "method": t.test.method,
                "direction": t.test.direction,
                "statistic": t.test.statistic,
                "sen_slope": t.test.sen_slope,
                "p_value": t.test.p_value,
                "adjusted_p_value": t.test.adjusted_p_value,
                "relative_change": t.test.relative_change,
                "change_period": t.change_period,
                "series_start": t.series_start,
                "series_end": t.series_end,
                "computed_at": now,
            }
            for t in outcome.trends
        ]
        for start in range(0, len(rows), 1000):
            await session.execute(sa.insert(status).values(rows[start : start + 1000]))
        for t in outcome.trends:
            if not t.test.flagged:
                continue
            trend_id = ":".join((t.segment, t.category, t.granularity, t.measure, t.test.method, t.test.direction))
            values = {
                "trend_id": trend_id,
                "segment": t.segment,
                "category": t.category,
                "granularity": t.granularity,
                "measure": t.measure,
                "method": t.test.method,
                "direction": t.test.direction,
                "statistic": float(t.test.statistic or 0.0),
                "sen_slope": float(t.test.sen_slope or 0.0),
                "p_value": float(t.test.p_value or 0.0),
                "adjusted_p_value": float(t.test.adjusted_p_value or 0.0),
                "series_start": t.series_start or "",
                "series_end": t.series_end or "",
                "first_seen_at": now,
            }
            if await insert_once(session, DetectedTrend.__table__, values):
                add_event(session, TrendDetectedV1(**values), aggregate_id=f"{t.segment}:{t.category}")

    async def _publish_risks(
        self, session: AsyncSession, outcome: Outcome, context: dict[str, Any], now: datetime
    ) -> None:
        risks = RiskState.__table__
        accounts = context["accounts"]
        previous = context["risks"]
        threshold = self.settings.p_alive_threshold
        for s in outcome.scores:
            account = accounts.get(s.customer_id)
            if account is None or account.status in ("merged", "erased"):
                continue
            low_alive = s.p_alive is not None and s.repeat_purchases > 0 and s.p_alive < threshold
            reason = "rfm_at_risk" if s.group == "at_risk" else ("low_p_alive" if low_alive else None)
            was = previous.get(s.customer_id)
            if reason is None:
                if was is not None and was.flagged:
                    await session.execute(
                        sa.update(risks).where(risks.c.customer_id == s.customer_id).values(flagged=False, reason=None)
                    )
                continue
            if was is not None and was.flagged:
                continue
            if was is None:
                moved = await insert_once(
                    session,
                    risks,
                    {"customer_id": s.customer_id, "flagged": True, "reason": reason, "since": now, "episodes": 1},
                )
            else:
                moved = (
                    await session.execute(
                        sa.update(risks)
                        .where(risks.c.customer_id == s.customer_id, risks.c.flagged.is_(False))
                        .values(flagged=True, reason=reason, since=now, episodes=risks.c.episodes + 1)
                    )
                ).rowcount == 1
            if moved:
                add_event(
                    session,
                    CustomerAtRiskV1(
                        customer_id=s.customer_id,
                        manager_id=account.manager_id,
                        segment=account.segment,
                        reason=reason,
                        rfm_group=s.group,
                        p_alive=s.p_alive,
                        last_purchase_at=account.last_purchase_at,
                        detected_at=now,
                    ),
                    aggregate_id=s.customer_id,
                    customer_id=s.customer_id,
                )
