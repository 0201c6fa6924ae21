"""Event envelope, versioned contracts and their registry."""

from shared.events.envelope import EventEnvelope
from shared.events.registry import EventContract, contract, contract_for, registered_contracts, topic_for

__all__ = ["EventContract", "EventEnvelope", "contract", "contract_for", "registered_contracts", "topic_for"]
