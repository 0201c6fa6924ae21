"""The breach detector: finds every case whose deadline passes, with no request touching it.

One task per process. It sleeps until the earliest ``next_deadline_at`` of all cases (an indexed
MIN), or until a commit in this process sets an earlier deadline, or at most
``breach_check_max_seconds`` (deadlines set by other replicas). Awake, it takes the cases whose
deadline has passed in batches, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so replicas share the
work, marks each missed target breached, raises the escalation level and publishes
``feedback.sla.breached``. Whatever the interleaving, a breach is reported once: the
``sla_breach`` row's primary key (case, target) is the claim (SQLite, which has no row locks,
relies on it alone).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import func, select

from services.feedback.models import Case
from services.feedback.use_cases import configuration, sla
from shared.db.engine import Database
from shared.db.types import utcnow

log = logging.getLogger(__name__)

MIN_SLEEP_SECONDS = 0.05  # a deadline just passed whose case another replica holds: look again shortly
ERROR_BACKOFF_SECONDS = (1.0, 30.0)


def instance_name(service: str) -> str:
    return f"{service}@{socket.gethostname()}:{os.getpid()}"


class BreachDetector:
    def __init__(self, db: Database, *, instance: str, max_sleep_seconds: float, batch_size: int) -> None:
        self.db = db
        self.instance = instance
        self.max_sleep = max_sleep_seconds
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        self._planned: datetime | None = None
        self.breaches_reported = 0

    def notify(self, deadline: datetime) -> None:
        """A commit set ``deadline``: wake up now if that is earlier than the planned wake-up."""
        if self._planned is None or deadline < self._planned:
            self._wake.set()

    async def tick(self, now: datetime | None = None) -> int:
        """Mark the breaches due by ``now`` in one batch; the number of cases looked at."""
        now = now or utcnow()
        async with self.db.transaction() as session:
            query = (select(Case).where(Case.next_deadline_at.is_not(None), Case.next_deadline_at < now)
                     .order_by(Case.next_deadline_at).limit(self.batch_size))
            if self.db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            cases = list((await session.execute(query.execution_options(populate_existing=True))).scalars())
            if not cases:
                return 0
            calendar = await configuration.current_calendar(session)
            for case in cases:
                self.breaches_reported += await sla.detect_due_breaches(
                    session, case=case, calendar=calendar, now=now, detected_by=self.instance)
        return len(cases)

    async def next_deadline(self) -> datetime | None:
        async with self.db.transaction() as session:
            return await session.scalar(select(func.min(Case.next_deadline_at)))

    async def run_forever(self) -> None:
        backoff = ERROR_BACKOFF_SECONDS[0]
        while True:
            self._wake.clear()
            try:
                while await self.tick() >= self.batch_size:
                    pass
                deadline = await self.next_deadline()
                backoff = ERROR_BACKOFF_SECONDS[0]
            except asyncio.CancelledError:
                raise
            except Exception:  # an outage or a bug: logged, retried with a backoff, never fatal
                log.exception("breach detection failed; retrying", extra={"retry_in_seconds": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, ERROR_BACKOFF_SECONDS[1])
                continue
            now = utcnow()
            delay = self.max_sleep if deadline is None else (deadline - now).total_seconds() + 0.001
            delay = min(max(delay, MIN_SLEEP_SECONDS), self.max_sleep)
            self._planned = now + timedelta(seconds=delay)
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass
