"""The `pelanggan` command line, run as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

import jwt
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.bus.kafka import ensure_topics
from shared.config import LOCAL_JWT_SECRET

CLI = [sys.executable, "-m", "pelanggan.cli"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)


def test_token_prints_a_signed_token_with_the_roles() -> None:
    result = run_cli("token", "--role", "manager", "--role", "analyst", "--sub", "emp-7")
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), LOCAL_JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "emp-7" and claims["roles"] == ["manager", "analyst"]


def test_token_refuses_an_unknown_role() -> None:
    result = run_cli("token", "--role", "wizard")
    assert result.returncode == 1
    assert "unknown role" in result.stderr


@pytest.mark.integration
async def test_dlq_list_and_replay(kafka_bootstrap: str) -> None:
    original = f"clitest{uuid.uuid4().hex[:8]}.events"
    dlq = f"{original}.dlq"
    await ensure_topics(kafka_bootstrap, [original], partitions=3)
    event_id = str(uuid.uuid4())
    value = json.dumps({"event_id": event_id, "type": "clitest.thing.happened", "version": 1}).encode()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(dlq, value, key=b"k", headers=[
            ("x-original-topic", original.encode()), ("x-original-partition", b"2"), ("x-original-offset", b"0"),
            ("x-error", b"boom"), ("x-attempts", b"5"), ("x-consumer-group", b"somebody"), ("trace-id", b"t-1")])
    finally:
        await producer.stop()

    # The CLI runs in a worker thread: a blocking wait on the test's event loop would stall it.
    listed = await asyncio.to_thread(run_cli, "dlq", "list", dlq, "--bootstrap", kafka_bootstrap, "--json")
    assert listed.returncode == 0, listed.stderr
    letters = json.loads(listed.stdout)
    assert [x["event"]["event_id"] for x in letters] == [event_id]
    assert letters[0]["headers"]["x-error"] == "boom"
    assert letters[0]["replays"] == []

    refused = await asyncio.to_thread(run_cli, "dlq", "replay", dlq, "--bootstrap", kafka_bootstrap)
    assert refused.returncode == 1  # neither --event-id nor --all
    replayed = await asyncio.to_thread(run_cli, "dlq", "replay", dlq, "--bootstrap", kafka_bootstrap,
                                       "--event-id", event_id, "--actor", "alice")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1" in replayed.stdout

    consumer = AIOKafkaConsumer(original, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                                group_id=f"check-{uuid.uuid4()}")
    await consumer.start()
    try:
        records = []
        for _ in range(30):
            batch = await consumer.getmany(timeout_ms=1000)
            records += [r for rs in batch.values() for r in rs]
            if records:
                break
    finally:
        await consumer.stop()
    assert [r.value for r in records] == [value]
    assert records[0].partition == 2, "not republished to the original partition"
    headers = dict(records[0].headers)
    assert headers["x-replayed-from"] == f"{dlq}/{letters[0]['partition']}/{letters[0]['offset']}".encode()
    assert headers["x-replayed-by"] == b"alice"
    assert headers["trace-id"] == b"t-1"  # the event's own headers travel on
    for stale in ("x-error", "x-attempts", "x-original-topic", "x-original-partition", "x-consumer-group"):
        assert stale not in headers, f"{stale} was republished"

    # The replay is on record, and shown with the letter.
    listed = await asyncio.to_thread(run_cli, "dlq", "list", dlq, "--bootstrap", kafka_bootstrap, "--json")
    [letter] = json.loads(listed.stdout)
    [replay] = letter["replays"]
    assert replay["by"] == "alice" and replay["to"] == f"{original}/2/{records[0].offset}"
    table = await asyncio.to_thread(run_cli, "dlq", "list", dlq, "--bootstrap", kafka_bootstrap)
    assert "by alice" in table.stdout

    # --all replays only letters not replayed yet; --again includes them.
    nothing = await asyncio.to_thread(run_cli, "dlq", "replay", dlq, "--bootstrap", kafka_bootstrap, "--all")
    assert nothing.returncode == 0 and "replayed 0" in nothing.stdout
    again = await asyncio.to_thread(run_cli, "dlq", "replay", dlq, "--bootstrap", kafka_bootstrap, "--all",
                                    "--again", "--actor", "bob")
    assert again.returncode == 0 and "replayed 1" in again.stdout
    listed = await asyncio.to_thread(run_cli, "dlq", "list", dlq, "--bootstrap", kafka_bootstrap, "--json")
    assert [r["by"] for r in json.loads(listed.stdout)[0]["replays"]] == ["alice", "bob"]
