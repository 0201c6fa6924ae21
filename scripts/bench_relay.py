"""Outbox relay throughput, as a ratio to a raw producer measured in the same run.

    .venv/bin/python scripts/bench_relay.py [--events 2000] [--keys 50] [--postgres]

Starts a private Kafka broker (and, with --postgres, a private PostgreSQL server) on loopback,
then measures, against the same broker:
- baseline: one idempotent producer sending the same events with send_and_wait, one at a time
  (what a naive "publish after commit" does);
- relay: the outbox relay draining the same number of committed outbox rows (events spread over
  ``keys`` customers: per-key order is kept, keys go concurrently).
Timings on a shared 2-core machine are noisy; the ratio is the figure to compare between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from shared.bus.kafka import ensure_topics, start_producer, stop_quietly
from shared.bus.outbox import add_event
from shared.bus.relay import OutboxRelay
from shared.bus.tables import OutboxMessage
from shared.db.base import shared_metadata
from shared.db.engine import Database
from shared.db.types import utcnow
from shared.events.contracts.customers import InteractionLoggedV1
from shared.infra.kafka import DEFAULT_HOME, LocalKafka
from shared.infra.postgres import LocalPostgres
from shared.testing.apps import free_port

TOPIC = "customers.events"


def sample_event(seq: int, key: str) -> InteractionLoggedV1:
    return InteractionLoggedV1(interaction_id=f"i{seq}", customer_id=key, channel="phone", direction="out",
                               employee_id="emp-1", outcome="ok", occurred_at=utcnow())


async def baseline(bootstrap: str, events: int, keys: int) -> float:
    producer = await start_producer(bootstrap, client_id="bench-baseline")
    try:
        started = time.perf_counter()
        for seq in range(events):
            key = f"c{seq % keys}"
            await producer.send_and_wait(TOPIC, sample_event(seq, key).model_dump_json().encode(), key=key.encode())
        return events / (time.perf_counter() - started)
    finally:
        await stop_quietly(producer)


async def relay_rate(db: Database, bootstrap: str, events: int, keys: int) -> float:
    async with db.engine.begin() as conn:
        await conn.run_sync(shared_metadata.create_all)
    for start in range(0, events, 500):
        async with db.transaction() as session:
            for seq in range(start, min(events, start + 500)):
                key = f"c{seq % keys}"
                add_event(session, sample_event(seq, key), aggregate_id=f"i{seq}", customer_id=key)

    async def producer() -> object:
        return await start_producer(bootstrap, client_id="bench-relay")

    relay = OutboxRelay(db=db, producer_factory=producer, service="bench", batch_size=500)  # type: ignore[arg-type]
    started = time.perf_counter()
    while True:
        await relay.run_once()
        async with db.session() as session:
            if not await session.scalar(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.published_at.is_(None))):
                break
    elapsed = time.perf_counter() - started
    await relay.close()
    return events / elapsed


async def main(events: int, keys: int, use_postgres: bool) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-kafka-"))
    broker = LocalKafka(home=home, port=free_port(), controller_port=free_port(), libs_dir=DEFAULT_HOME / "libs")
    pg_dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    server = LocalPostgres(datadir=pg_dir / "data", port=free_port()) if use_postgres else None
    broker.start()
    try:
        await ensure_topics(broker.bootstrap, [TOPIC])
        if server:
            server.start()
            name = f"bench_{uuid.uuid4().hex[:8]}"
            server.create_database(name)
            db = Database(server.url(name))
        else:
            db = Database(f"sqlite+aiosqlite:///{pg_dir / 'bench.db'}")
        try:
            await baseline(broker.bootstrap, 200, keys)  # warm-up: topic metadata, JIT in the broker
            base = await baseline(broker.bootstrap, events, keys)
            relay = await relay_rate(db, broker.bootstrap, events, keys)
        finally:
            await db.dispose()
        print(f"database: {'postgresql' if server else 'sqlite'}; {events} events over {keys} keys")
        print(f"baseline (send_and_wait, one at a time): {base:8.0f} events/s")
        print(f"outbox relay (committed rows → Kafka):    {relay:8.0f} events/s")
        print(f"ratio relay / baseline:                   {relay / base:8.2f}")
    finally:
        broker.stop()
        if server:
            server.stop()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(pg_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.keys, args.postgres))
