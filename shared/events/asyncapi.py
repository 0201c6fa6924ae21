"""An AsyncAPI 3 document generated from the registered contracts (one source of truth)."""

from __future__ import annotations

from typing import Any

from shared.events.envelope import EventEnvelope
from shared.events.registry import registered_contracts, topic_for


def build_asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for (event_type, version), model in sorted(registered_contracts().items()):
        topic = topic_for(event_type)
        name = f"{event_type}.v{version}"
        messages[name] = {
            "name": event_type,
            "title": f"{event_type} (version {version})",
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else event_type,
            "contentType": "application/json",
            "headers": {"type": "object", "properties": {"event-type": {"const": event_type},
                                                          "event-version": {"const": str(version)}}},
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/EventEnvelope"},
                    {"type": "object", "properties": {"type": {"const": event_type},
                                                      "version": {"const": version},
                                                      "payload": model.model_json_schema()}},
                ]
            },
        }
        channel = channels.setdefault(topic, {"address": topic, "messages": {}})
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for topic in channels:
        operations[f"publish_{topic.replace('.', '_')}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Pelanggan domain events", "version": "1.0.0",
                 "description": "Kafka key: the customer id where the event concerns one, else the aggregate id."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": {"EventEnvelope": EventEnvelope.model_json_schema()}},
    }
