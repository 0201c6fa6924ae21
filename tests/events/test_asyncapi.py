"""The published AsyncAPI document is current, self-contained and true to what is really sent."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner, murmur2
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from shared.bus.kafka import ensure_topics
from shared.bus.outbox import add_event
from shared.bus.relay import OutboxRelay
from shared.db.base import shared_metadata
from shared.db.engine import Database
from shared.events.asyncapi import RELAY_HEADERS, build_asyncapi
from shared.events.examples import example_payload
from shared.events.registry import registered_contracts, topic_for
from shared.events.types import DECIMAL_STRING_PATTERN

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"
URI = "urn:pelanggan:asyncapi"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_asyncapi()


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("$ref"), str):
                found.append(item["$ref"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _pointer(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are published: {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def test_the_committed_document_is_current(document: dict[str, Any]) -> None:
    committed = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(document, default=str)), "docs/asyncapi.json is stale: make asyncapi"


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = _refs(document)
    assert refs, "the document should share schemas by reference"
    for ref in refs:
        _pointer(document, ref)
    assert "$defs" not in json.dumps(document["components"]["messages"])


def test_every_registered_event_type_has_a_message_on_its_topic(document: dict[str, Any]) -> None:
    for event_type, version in registered_contracts():
        name = f"{event_type}.v{version}"
        assert name in document["components"]["messages"]
        assert name in document["channels"][topic_for(event_type)]["messages"]


def test_every_example_validates_against_its_message_schema(document: dict[str, Any]) -> None:
    registry = Registry().with_resource(URI, Resource.from_contents(document, default_specification=DRAFT202012))
    for name, message in document["components"]["messages"].items():
        for example in message["examples"]:
            payload = Draft202012Validator({"$ref": f"{URI}#/components/messages/{name}/payload"}, registry=registry)
            payload.validate(example["payload"])
            Draft202012Validator(message["headers"]).validate(example["headers"])


def test_a_payload_that_breaks_its_contract_is_refused_by_the_schema(document: dict[str, Any]) -> None:
    """The examples above could pass a schema that accepts anything: this one must not."""
    registry = Registry().with_resource(URI, Resource.from_contents(document, default_specification=DRAFT202012))
    validator = Draft202012Validator({"$ref": f"{URI}#/components/messages/orders.order.paid.v1/payload"},
                                     registry=registry)
    example = document["components"]["messages"]["orders.order.paid.v1"]["examples"][0]["payload"]
    for broken in ({**example["payload"], "net": 1250.5}, {**example["payload"], "net": "1.2e3"},
                   {k: v for k, v in example["payload"].items() if k != "order_id"}):
        assert not validator.is_valid({**example, "payload": broken}), broken
    assert not validator.is_valid({**example, "type": "orders.order.placed"})


def test_money_is_published_as_a_plain_decimal_string(document: dict[str, Any]) -> None:
    amounts = document["components"]["schemas"]["Amounts"]["properties"]["net"]
    assert amounts["type"] == "string" and amounts["pattern"] == DECIMAL_STRING_PATTERN


def test_examples_are_valid_for_their_models() -> None:
    for model in registered_contracts().values():
        model.model_validate(example_payload(model))


@pytest.mark.parametrize("key", ["c0b3d7de-1f7a-4a55-9b55-4f4b9ad6a1f0", "customer-1", "PT Kertas Jaya"])
def test_the_documented_partitioner_is_the_one_our_producer_uses(key: str) -> None:
    partitions = list(range(3))
    chosen = DefaultPartitioner()(key.encode(), partitions, partitions)
    assert chosen == (murmur2(key.encode()) & 0x7FFFFFFF) % 3
    assert build_asyncapi()["info"]["x-partitioner"] == "murmur2"


@pytest.mark.integration
async def test_the_declared_headers_are_the_ones_the_relay_sends(database_url: str, kafka_bootstrap: str) -> None:
    from shared.bus.kafka import start_producer
    from shared.db.types import utcnow
    from shared.events.contracts.customers import CustomerErasedV1

    topic = topic_for(CustomerErasedV1.event_type)
    await ensure_topics(kafka_bootstrap, [topic])
    db = Database(database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(shared_metadata.create_all)
    customer_id = f"asyncapi-{uuid.uuid4()}"
    async with db.transaction() as session:
        add_event(session, CustomerErasedV1(customer_id=customer_id, erased_at=utcnow()), aggregate_id=customer_id,
                  customer_id=customer_id)
    relay = OutboxRelay(db=db, producer_factory=lambda: start_producer(kafka_bootstrap, client_id="asyncapi-test"),
                        service="asyncapi-test")
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=f"asyncapi-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        for _ in range(300):
            if (await relay.run_once()).published:
                break
            await asyncio.sleep(0.2)
        headers = None
        async with asyncio.timeout(60):
            while headers is None:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        if record.key == customer_id.encode():
                            headers = {k: v.decode() for k, v in record.headers}
        assert set(headers) == set(RELAY_HEADERS["properties"])
        Draft202012Validator(RELAY_HEADERS).validate(headers)
    finally:
        await consumer.stop()
        await relay.close()
        await db.dispose()


def test_probe_contracts_of_tests_stay_out_of_the_published_document() -> None:
    from shared.events.registry import EventContract, contract

    @contract("probe.asyncapi.leaked", 1)
    class LeakProbeV1(EventContract):
        seq: int

    assert ("probe.asyncapi.leaked", 1) not in registered_contracts()
    assert "probe.events" not in build_asyncapi()["channels"]
