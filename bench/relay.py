"""Outbox relay throughput, as ratios to raw producers measured in the same run on the same broker.

    .venv/bin/python -m bench.relay [--quick] [--postgres URL] [--kafka BOOTSTRAP]

Without ``--postgres``/``--kafka`` it starts a private PostgreSQL server and Kafka broker on
loopback (``shared.testing.infra``). For SQLite and for PostgreSQL, each repetition measures:
- raw producer, per-key order kept: one task per key, each ``send_and_wait`` awaited before the
  key's next event (keys in parallel): what a producer that keeps per-key order naively does;
- raw producer, pipelined: every ``send()`` issued, then every delivery awaited;
- the outbox relay draining the same number of committed outbox rows (configured as a service
  runs it: ``ServiceSettings`` defaults), to the same topic.
The producers are configured alike (``shared.bus.kafka.start_producer``: idempotent, acks=all).
Writing the rows is not timed. The figure is the median of the repetitions; the ratios are the
result (timings on a shared 2-core machine are noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from sqlalchemy import insert

from bench.common import BenchContext, Figure
from shared.bus.kafka import ensure_topics, start_producer, stop_quietly
from shared.bus.relay import OutboxRelay
from shared.bus.tables import OutboxMessage
from shared.config import ServiceSettings
from shared.db.base import shared_metadata
from shared.db.engine import Database
from shared.db.types import utcnow
from shared.events.contracts.customers import InteractionLoggedV1
from shared.events.envelope import EventEnvelope

TOPIC = "bench.relay.events"
KEYS = 50
TARGET_RATIO = 0.7


def _event(seq: int, key: str) -> InteractionLoggedV1:
    return InteractionLoggedV1(interaction_id=f"i{seq}", customer_id=key, channel="phone", direction="out",
                               employee_id="emp-1", outcome="ok", occurred_at=utcnow())


def _outbox_row(seq: int) -> dict[str, object]:
    key = f"c{seq % KEYS}"
    event = _event(seq, key)
    envelope = EventEnvelope(event_id=uuid.uuid4(), type=event.event_type, version=event.event_version,
                             occurred_at=utcnow(), producer="bench", aggregate_id=f"i{seq}", customer_id=key,
                             correlation_id="bench", payload=event.model_dump(mode="json"))
    return {"event_id": str(envelope.event_id), "event_type": envelope.type, "topic": TOPIC, "key": key,
            "envelope": envelope.model_dump_json(), "created_at": utcnow()}


def _payloads(events: int) -> list[tuple[str, bytes]]:
    return [(f"c{seq % KEYS}", _event(seq, f"c{seq % KEYS}").model_dump_json().encode()) for seq in range(events)]


def _headers() -> list[tuple[str, bytes]]:  # what the relay sends with every event
    return [("event-type", InteractionLoggedV1.event_type.encode()), ("event-id", str(uuid.uuid4()).encode())]


async def raw_per_key(bootstrap: str, events: int) -> float:
    by_key: dict[str, list[bytes]] = defaultdict(list)
    for key, value in _payloads(events):
        by_key[key].append(value)
    producer = await start_producer(bootstrap, client_id="bench-raw-per-key")
    try:
        async def one_key(key: str, values: list[bytes]) -> None:
            for value in values:
                await producer.send_and_wait(TOPIC, value, key=key.encode(), headers=_headers())

        started = time.perf_counter()
        await asyncio.gather(*(one_key(k, v) for k, v in by_key.items()))
        return events / (time.perf_counter() - started)
    finally:
        await stop_quietly(producer)


async def raw_pipelined(bootstrap: str, events: int) -> float:
    payloads = _payloads(events)
    producer = await start_producer(bootstrap, client_id="bench-raw-pipelined")
    try:
        started = time.perf_counter()
        deliveries = [await producer.send(TOPIC, value, key=key.encode(), headers=_headers())
                      for key, value in payloads]
        await asyncio.gather(*deliveries)
        return events / (time.perf_counter() - started)
    finally:
        await stop_quietly(producer)


async def _write_rows(db: Database, seqs: range) -> None:
    # Rows as ``add_event`` writes them, but to the bench's own topic (never a service's).
    for start in range(seqs.start, seqs.stop, 1000):
        async with db.transaction() as session:
            rows = [_outbox_row(seq) for seq in range(start, min(seqs.stop, start + 1000))]
            await session.execute(insert(OutboxMessage), rows)


async def relay_rate(db: Database, bootstrap: str, events: int) -> float:
    async with db.engine.begin() as conn:
        await conn.run_sync(shared_metadata.create_all)
    settings = ServiceSettings()

    async def producer():  # type: ignore[no-untyped-def]
        return await start_producer(bootstrap, client_id="bench-relay")

    relay = OutboxRelay(db=db, producer_factory=producer, service="bench", batch_size=settings.relay_batch_size,
                        send_timeout=settings.relay_send_timeout_seconds)
    try:
        # Warm up as the baselines are (their producer is started before the clock): one row
        # through, so the relay's producer exists, as it does in a running service.
        await _write_rows(db, range(events, events + 1))
        while not (await relay.run_once()).published:
            pass
        await _write_rows(db, range(events))
        published = 0
        started = time.perf_counter()
        while published < events:
            result = await relay.run_once()
            if result.failed:
                raise RuntimeError(f"relay failed during the benchmark: {result.failed}")
            published += len(result.published)
        return events / (time.perf_counter() - started)
    finally:
        await relay.close()


async def _database(ctx: BenchContext, kind: str) -> Database:
    if kind == "SQLite":
        return Database(f"sqlite+aiosqlite:///{ctx.work_dir / f'relay-{uuid.uuid4().hex[:8]}.db'}")
    return Database(await ctx.create_database())


async def run(ctx: BenchContext) -> list[Figure]:
    events = 3000 if ctx.quick else 20000
    await ensure_topics(ctx.kafka_bootstrap, [TOPIC])
    await raw_pipelined(ctx.kafka_bootstrap, 500)  # warm-up: topic metadata, the broker's JIT
    figures: list[Figure] = []
    for kind in ("SQLite", "PostgreSQL"):
        per_key: list[float] = []
        pipelined: list[float] = []
        relay: list[float] = []
        for _ in range(ctx.repetitions):
            per_key.append(await raw_per_key(ctx.kafka_bootstrap, events))
            pipelined.append(await raw_pipelined(ctx.kafka_bootstrap, events))
            db = await _database(ctx, kind)
            try:
                relay.append(await relay_rate(db, ctx.kafka_bootstrap, events))
            finally:
                await db.dispose()
        value = statistics.median(relay)
        per_key_median = statistics.median(per_key)
        notes = f"{events} events over {KEYS} keys, committed before the relay starts"
        figures.append(Figure(
            name=f"relay events/s, {KEYS} keys, {kind}", value=value, unit="events/s",
            baseline_name="raw producer, per-key order kept (keys in parallel, each send awaited)",
            baseline=per_key_median, target=f">= {TARGET_RATIO}x", met=value >= TARGET_RATIO * per_key_median,
            notes=notes, samples=relay,
        ))
        figures.append(Figure(
            name=f"relay events/s vs pipelined sends, {KEYS} keys, {kind}", value=value, unit="events/s",
            baseline_name="raw producer, pipelined send() of the same events",
            baseline=statistics.median(pipelined), notes=notes, samples=relay,
        ))
    return figures


def _print(figures: list[Figure]) -> None:
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        verdict = "" if f.met is None else ("  target met" if f.met else "  target MISSED")
        print(f"{f.name}: {f.value:,.0f} {f.unit}  vs {f.baseline_name}: {f.baseline:,.0f}  = {ratio}"
              f"  (target {f.target or '-'}){verdict}")
        print(f"    samples {[round(s) for s in f.samples]}; {f.notes}")


async def _main(quick: bool, postgres: str | None, kafka: str | None) -> None:
    from contextlib import ExitStack

    from shared.testing.infra import kafka_for_tests, postgres_for_tests

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-relay-") as work:
        bootstrap = kafka or stack.enter_context(kafka_for_tests())
        admin_url = postgres or stack.enter_context(postgres_for_tests()).admin_url
        ctx = BenchContext(quick=quick, repetitions=3, postgres_admin_url=admin_url, kafka_bootstrap=bootstrap,
                           work_dir=Path(work))
        _print(await run(ctx))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", help="admin URL of a server where throwaway databases may be created")
    parser.add_argument("--kafka", help="bootstrap address of a broker")
    args = parser.parse_args()
    asyncio.run(_main(args.quick, args.postgres, args.kafka))
