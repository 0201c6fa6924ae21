"""An AsyncAPI 3 document generated from the registered contracts (one source of truth).

Every schema the payloads use is hoisted into ``components.schemas`` (pydantic puts nested models
under a per-model ``$defs``, which copied as is would leave dangling ``$ref``s), the headers are the
ones the relay really sends, each message carries a valid example, and the Kafka bindings say how
keys map to partitions.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from shared.events.envelope import EventEnvelope
from shared.events.examples import example_payload
from shared.events.registry import registered_contracts, topic_for

REF_TEMPLATE = "#/components/schemas/{model}"
# What the relay puts on every record besides key and value (shared/bus/relay.py).
RELAY_HEADERS = {
    "type": "object",
    "properties": {
        "event-type": {"type": "string", "description": "the envelope's `type`"},
        "event-id": {"type": "string", "format": "uuid", "description": "the envelope's `event_id`"},
    },
    "required": ["event-type", "event-id"],
}
PARTITIONING = (
    "Kafka key: the customer id where the event concerns a customer (all of one customer's events from one "
    "service stay on one partition, in order), else the aggregate id. Keys are mapped to partitions with "
    "murmur2 (the Java client's and aiokafka's default partitioner). Outside producers built on librdkafka "
    "(kcat, confluent-kafka) default to CRC32 (`consistent_random`) and must set "
    "`partitioner=murmur2_random`, or their events for a customer land on another partition than ours."
)
KEY_SCHEMA = {"type": "string", "description": "customer id, else aggregate id; partitioned with murmur2"}
LOCAL_PARTITIONS = 3


def _schemas() -> tuple[dict[tuple[type, str], Any], dict[str, Any]]:
    contracts = sorted(registered_contracts().items())
    models = [(EventEnvelope, "serialization")] + [(model, "serialization") for _, model in contracts]
    keyed, top = models_json_schema(models, ref_template=REF_TEMPLATE)
    return keyed, top.get("$defs", {})


def build_asyncapi() -> dict[str, Any]:
    keyed, schemas = _schemas()
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for (event_type, version), model in sorted(registered_contracts().items()):
        topic = topic_for(event_type)
        name = f"{event_type}.v{version}"
        payload_ref = keyed[(model, "serialization")]
        messages[name] = {
            "name": event_type,
            "title": f"{event_type} (version {version})",
            "summary": (model.__doc__ or event_type).strip().splitlines()[0],
            "contentType": "application/json",
            "headers": RELAY_HEADERS,
            "payload": {
                "allOf": [
                    keyed[(EventEnvelope, "serialization")],
                    {"type": "object", "properties": {"type": {"const": event_type},
                                                      "version": {"const": version},
                                                      "payload": payload_ref}},
                ]
            },
            "examples": [{"name": "example", "headers": {"event-type": event_type,
                                                          "event-id": "0b6f3e8e-2a4c-4d5e-9f10-1a2b3c4d5e6f"},
                          "payload": {"event_id": "0b6f3e8e-2a4c-4d5e-9f10-1a2b3c4d5e6f", "type": event_type,
                                      "version": version, "occurred_at": "2026-11-02T09:30:00Z",
                                      "producer": event_type.split(".", 1)[0], "aggregate_id": "aggregate-1",
                                      "customer_id": "customer-1", "correlation_id": "request-1",
                                      "causation_id": None, "payload": example_payload(model)}}],
            "bindings": {"kafka": {"key": KEY_SCHEMA, "bindingVersion": "0.5.0"}},
        }
        channel = channels.setdefault(topic, {
            "address": topic, "messages": {},
            "description": f"Events of the {topic.split('.', 1)[0]} service. {PARTITIONING}",
            "bindings": {"kafka": {"topic": topic, "partitions": LOCAL_PARTITIONS, "bindingVersion": "0.5.0"}},
        })
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    operations = {
        f"publish_{topic.replace('.', '_')}": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": [{"$ref": f"#/channels/{topic}/messages/{name}"} for name in channel["messages"]],
        }
        for topic, channel in channels.items()
    }
    return {
        "asyncapi": "3.1.0",
        "info": {"title": "Pelanggan domain events", "version": "1.0.0",
                 "description": "Every event is one JSON envelope (EventEnvelope) whose `payload` is the versioned "
                                f"contract named by `type` and `version`. {PARTITIONING} Money is a decimal "
                                "string (never a number, never exponent notation); instants are ISO-8601 UTC.",
                 "x-partitioner": "murmur2"},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
