"""Case volumes and SLA breaches per month of receipt and kind.

A case's contribution (received, resolved, breached, in its month of receipt) depends on several
events (received, resolved, SLA breached) that may come in any order: the case's row keeps what is
known, and each event applies the difference between the contribution after and before it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.models import CaseFact, CaseMonth
from services.analytics.sql import add_rows, for_update, insert_once
from services.analytics.stats.periods import labels

cases = CaseFact.__table__


def _contribution(row: dict[str, Any]) -> dict[tuple[str, str], dict[str, int]]:
    if not row.get("received_month") or not row.get("kind"):
        return {}
    return {
        (row["received_month"], row["kind"]): {
            "received": 1,
            "resolved": int(bool(row["resolved"])),
            "breached": int(bool(row["breached"])),
        }
    }


async def case_event(
    session: AsyncSession,
    *,
    case_id: str,
    customer_id: str,
    kind: str | None,
    zone: ZoneInfo,
    received_at: datetime | None = None,
    resolved: bool = False,
    breached: bool = False,
) -> None:
    await insert_once(session, cases, {"case_id": case_id, "customer_id": customer_id, "kind": kind})
    row = dict(
        (await session.execute(for_update(session, sa.select(cases).where(cases.c.case_id == case_id)))).one()._mapping
    )
    after = {
        **row,
        "kind": row["kind"] or kind,
        "received_month": row["received_month"] or (labels(received_at, zone)["month"] if received_at else None),
        "resolved": row["resolved"] or resolved,
        "breached": row["breached"] or breached,
    }
    if after == row:
        return
    await session.execute(
        sa.update(cases)
        .where(cases.c.case_id == case_id)
        .values(
            kind=after["kind"],
            received_month=after["received_month"],
            resolved=after["resolved"],
            breached=after["breached"],
        )
    )
    before, now = _contribution(row), _contribution(after)
    deltas = []
    for key in before.keys() | now.keys():
        old, new = before.get(key, {}), now.get(key, {})
        change = {c: new.get(c, 0) - old.get(c, 0) for c in ("received", "resolved", "breached")}
        if any(change.values()):
            deltas.append({"month": key[0], "kind": key[1], **change})
    await add_rows(
        session, CaseMonth.__table__, deltas, keys=["month", "kind"], add=["received", "resolved", "breached"]
    )
