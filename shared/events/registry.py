"""Versioned event contracts and where they are published.

A contract is a pydantic payload model registered under (type, version). Adding an optional
field keeps the version; any other change is a new class with ``version + 1``, and both stay
registered while consumers migrate. Topics are named by the producing service, never by class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

_CONTRACTS: dict[tuple[str, int], type[EventContract]] = {}


class EventContract(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    event_version: ClassVar[int]


C = TypeVar("C", bound=type[EventContract])


def contract(event_type: str, version: int) -> Callable[[C], C]:
    def register(cls: C) -> C:
        key = (event_type, version)
        if key in _CONTRACTS and _CONTRACTS[key] is not cls:
            raise ValueError(f"{event_type} v{version} is already registered by {_CONTRACTS[key].__name__}")
        cls.event_type = event_type
        cls.event_version = version
        _CONTRACTS[key] = cls
        return cls

    return register


def service_topic(service: str) -> str:
    """Each service publishes on one topic, so one customer's events from it stay in order."""
    return f"{service}.events"


def topic_for(event_type: str) -> str:
    return service_topic(event_type.split(".", 1)[0])


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


def contract_for(event_type: str, version: int) -> type[EventContract] | None:
    return _CONTRACTS.get((event_type, version))


CONTRACTS_PACKAGE = "shared.events.contracts"


def registered_contracts(*, published_only: bool = True) -> dict[tuple[str, int], type[EventContract]]:
    """Every contract of the services' published topics (tests may register probe contracts of their
    own elsewhere; those are included only with ``published_only=False``)."""
    # Importing the contract modules fills the registry.
    import shared.events.contracts  # noqa: F401

    return {key: model for key, model in _CONTRACTS.items()
            if not published_only or model.__module__.startswith(CONTRACTS_PACKAGE + ".")}
