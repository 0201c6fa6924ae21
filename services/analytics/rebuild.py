"""Rebuild the read models from the event log: drop them, replay every consumed topic from the beginning.

Decision: the service's own consumer group is reused and its offsets are reset, rather than a new
group created. The rebuild refuses to start while the group has members (stop every analytics
replica first), so nothing applies events beside it; it clears the read models and the group's
inbox rows in one transaction, reads each partition from its beginning up to the end offsets taken
at the start with the service's own handlers (one transaction per batch, each event claimed in the
inbox as the consumer does), then commits those end offsets for the group: the restarted service
goes on with whatever arrived during the rebuild. Configuration (``cost_rate``) and the service's
own publication history (``detected_trend``, ``risk_state``) are kept, so a rebuild re-publishes
nothing. An event whose handler fails is counted and skipped, as the consumer would dead-letter it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from services.analytics.config import AnalyticsSettings
from services.analytics.handlers import build_handlers
from services.analytics.models import (
    JOB_DERIVED,
    READ_MODELS,
    CaseMonth,
    CustomerActivityMonth,
    CustomerDemand,
    CustomerMonth,
    ManagerMonth,
    SegmentDemand,
    SegmentMonth,
)
from services.analytics.use_cases.ledger import mark_dirty
from shared.bus import inbox
from shared.bus.handlers import HandlerRegistry
from shared.bus.tables import InboxMessage
from shared.db.engine import Database
from shared.db.migrations import upgrade_to_head
from shared.events.envelope import EventEnvelope

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (topic, events read so far, events to read)


class RebuildRefused(RuntimeError):
    """The consumer group still has members: the service must be stopped first."""


@dataclass
class RebuildReport:
    totals: dict[str, int] = field(default_factory=dict)
    applied: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    checksum_before: str = ""
    checksum_after: str = ""


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# Additive aggregates: a row whose figures are all zero is the same as no row (moving a customer between
# segments leaves such rows behind in one arrival order and not in another).
ADDITIVE = (CustomerMonth, SegmentMonth, ManagerMonth, CustomerActivityMonth, CustomerDemand, SegmentDemand, CaseMonth)


async def checksum(db: Database, *, per_table: dict[str, str] | None = None) -> str:
    """A digest of every event-derived read model (the job's time-dependent scores excluded)."""
    overall = hashlib.sha256()
    async with db.transaction() as session:
        for model in READ_MODELS:
            if model in JOB_DERIVED:
                continue
            table = model.__table__
            digest = hashlib.sha256()
            order = list(table.primary_key.columns)
            figures = [i for i, c in enumerate(table.columns) if c.name not in table.primary_key.columns]
            for row in await session.execute(sa.select(table).order_by(*order)):
                if model in ADDITIVE and all(row[i] == 0 for i in figures):
                    continue
                digest.update(json.dumps([_canonical(v) for v in row], default=str).encode())
                digest.update(b"\n")
            if per_table is not None:
                per_table[table.name] = digest.hexdigest()
            overall.update(f"{table.name}:{digest.hexdigest()}\n".encode())
    return overall.hexdigest()


async def _members(admin: AIOKafkaAdminClient, group_id: str) -> int:
    described = await asyncio.wait_for(admin.describe_consumer_groups([group_id]), 15)
    # each group: (error_code, group_id, state, protocol_type, protocol, members, ...)
    return sum(len(group[5]) for response in described for group in getattr(response, "groups", []) if len(group) > 5)


async def _refuse_if_running(bootstrap: str, group_id: str, wait_seconds: float) -> None:
    """Refuse while the group has members; a replica just stopped may take a few seconds to leave."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await asyncio.wait_for(admin.start(), 15)
    try:
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while (members := await _members(admin, group_id)) > 0:
            if asyncio.get_running_loop().time() >= deadline:
                raise RebuildRefused(
                    f"consumer group {group_id!r} has {members} member(s): stop every analytics "
                    "replica before rebuilding"
                )
            await asyncio.sleep(1)
    finally:
        await asyncio.wait_for(admin.close(), 15)


async def _clear(db: Database, group_id: str) -> None:
    async with db.transaction() as session:
        for model in reversed(READ_MODELS):
            await session.execute(sa.delete(model.__table__))
        await session.execute(sa.delete(InboxMessage.__table__).where(InboxMessage.__table__.c.consumer == group_id))
        await mark_dirty(session)


async def _apply_one(db: Database, registry: HandlerRegistry, group_id: str, envelope: EventEnvelope) -> None:
    handler = registry.get(envelope.type, envelope.version)
    assert handler is not None
    async with db.transaction() as session:
        if await inbox.claim(session, consumer=group_id, event_id=str(envelope.event_id), event_type=envelope.type):
            await handler(session, envelope)


async def _apply_batch(
    db: Database, registry: HandlerRegistry, group_id: str, records: list[ConsumerRecord], report: RebuildReport
) -> None:
    envelopes = []
    for record in records:
        try:
            envelope = EventEnvelope.from_bytes(record.value)
        except (ValidationError, ValueError, TypeError):
            report.skipped += 1
            continue
        if registry.get(envelope.type, envelope.version) is None:
            report.skipped += 1
            continue
        envelopes.append(envelope)
    try:
        async with db.transaction() as session:
            for envelope in envelopes:
                handler = registry.get(envelope.type, envelope.version)
                assert handler is not None
                claimed = await inbox.claim(
                    session, consumer=group_id, event_id=str(envelope.event_id), event_type=envelope.type
                )
                if claimed:
                    await handler(session, envelope)
        report.applied += len(envelopes)
        return
    except Exception:  # one bad event spoils the batch's transaction: apply them one by one
        log.info("a rebuild batch failed; applying its events one by one")
    for envelope in envelopes:
        try:
            await _apply_one(db, registry, group_id, envelope)
            report.applied += 1
        except Exception as exc:  # the live consumer would have dead-lettered it
            report.failed.append(f"{envelope.event_id} {envelope.type}: {exc!r}"[:300])


async def rebuild(
    settings: AnalyticsSettings,
    *,
    progress: Progress | None = None,
    batch_size: int = 500,
    group_id: str | None = None,
    wait_seconds: float = 60.0,
) -> RebuildReport:
    group_id = group_id or settings.service_name
    registry = build_handlers(settings.zone)
    db = Database(settings.effective_database_url)
    report = RebuildReport()
    consumer: AIOKafkaConsumer | None = None
    try:
        await upgrade_to_head(database_url=db.url, migrations_dir=_migrations())
        await _refuse_if_running(settings.kafka_bootstrap, group_id, wait_seconds)
        report.checksum_before = await checksum(db)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            client_id=f"{group_id}-rebuild",
        )
        await asyncio.wait_for(consumer.start(), 30)
        partitions = []
        for topic in registry.topics:
            for number in sorted(await _partitions(consumer, topic)):
                partitions.append(TopicPartition(topic, number))
        consumer.assign(partitions)
        beginning = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        report.totals = {t: sum(end[tp] - beginning[tp] for tp in partitions if tp.topic == t) for t in registry.topics}
        done = dict.fromkeys(registry.topics, 0)
        await _clear(db, group_id)
        for tp in partitions:
            consumer.seek(tp, beginning[tp])
        remaining = {tp for tp in partitions if end[tp] > beginning[tp]}
        for topic in registry.topics:
            if progress:
                progress(topic, 0, report.totals[topic])
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=batch_size)
            for tp, records in batch.items():
                records = [r for r in records if r.offset < end[tp]]
                if records:
                    await _apply_batch(db, registry, group_id, records, report)
                    done[tp.topic] += len(records)
                    if progress:
                        progress(tp.topic, done[tp.topic], report.totals[tp.topic])
                if not records or records[-1].offset >= end[tp] - 1:
                    if await consumer.position(tp) >= end[tp]:
                        remaining.discard(tp)
        await consumer.commit({tp: end[tp] for tp in partitions})
        report.checksum_after = await checksum(db)
        return report
    finally:
        if consumer is not None:
            await asyncio.wait_for(consumer.stop(), 15)
        await db.dispose()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    return set()


def _migrations() -> Any:
    from services.analytics.app import MIGRATIONS

    return MIGRATIONS
