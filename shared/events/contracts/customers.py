"""Events published by the customers service on topic ``customers.events`` (key: customer id)."""

from __future__ import annotations

from typing import Literal

from shared.events.registry import EventContract, contract
from shared.events.types import UtcDatetime

Channel = Literal["phone", "email", "sms", "messenger", "post"]
CustomerStatus = Literal["active", "merged", "erased"]


class CustomerFacts(EventContract):
    """What other services may keep of a customer (their replica): no personal data.

    ``revision`` counts the changes of the customer's record (1 at registration, one more for every
    snapshot, merge, erasure or manager assignment published, counted under the record's lock): a
    replica keeps the highest revision it saw, which does not depend on the clocks of the producing
    replicas. Optional: events written before it existed have none (order those by ``occurred_at``).

    Topics are kept for rebuilds, long after a customer may have been erased, so version 2 of every
    customers event carries ids, codes and instants only: a service that needs a name or an address
    asks the customers API, which anonymises them on erasure. Version 1 (name, tags, free text) is
    no longer published; its classes stay registered to read old records, and subclass version 2,
    so a consumer parsing with the version-2 model reads both.
    """

    customer_id: str
    kind: Literal["person", "company"]
    segment: str | None
    status: CustomerStatus
    manager_id: str | None
    preferred_channel: Channel | None
    created_at: UtcDatetime
    revision: int | None = None


@contract("customers.customer.registered", 2)
class CustomerRegisteredV2(CustomerFacts):
    first_contact_channel: Channel | None


@contract("customers.customer.updated", 2)
class CustomerUpdatedV2(CustomerFacts):
    """``changed_fields`` names what changed (names only: "name" may be listed, its value never is)."""

    changed_fields: list[str]


class CustomerSnapshot(CustomerFacts):
    """Version 1's snapshot (retired): also the name and tags."""

    name: str
    tags: list[str]


@contract("customers.customer.registered", 1)
class CustomerRegisteredV1(CustomerSnapshot, CustomerRegisteredV2):
    source: str | None


@contract("customers.customer.updated", 1)
class CustomerUpdatedV1(CustomerSnapshot, CustomerUpdatedV2):
    pass


@contract("customers.customer.merged", 1)
class CustomerMergedV1(EventContract):
    """``merged_id`` is retired; every reference to it should now point at ``survivor_id``."""

    survivor_id: str
    merged_id: str
    merged_at: UtcDatetime
    revision: int | None = None  # the merged customer's revision (see CustomerSnapshot)


@contract("customers.customer.erased", 1)
class CustomerErasedV1(EventContract):
    """Personal data was anonymised on request; replicas must drop their personal copies too."""

    customer_id: str
    erased_at: UtcDatetime
    revision: int | None = None  # the erased customer's revision (see CustomerSnapshot)


@contract("customers.consent.changed", 2)
class ConsentChangedV2(EventContract):
    customer_id: str
    channel: Channel
    granted: bool
    changed_by: str
    changed_at: UtcDatetime


@contract("customers.consent.changed", 1)
class ConsentChangedV1(ConsentChangedV2):
    """Retired: ``source`` was free text ("signed form ...")."""

    source: str


@contract("customers.manager.assigned", 1)
class ManagerAssignedV1(EventContract):
    """``revision`` (optional) is the customer's revision after the assignment (see CustomerSnapshot):
    replicas that keep the manager order assignments and snapshots by it."""

    customer_id: str
    employee_id: str
    previous_employee_id: str | None
    assigned_by: str
    assigned_at: UtcDatetime
    revision: int | None = None


@contract("customers.interaction.logged", 2)
class InteractionLoggedV2(EventContract):
    interaction_id: str
    customer_id: str
    channel: Channel
    direction: Literal["in", "out"]
    employee_id: str | None
    occurred_at: UtcDatetime


@contract("customers.interaction.logged", 1)
class InteractionLoggedV1(InteractionLoggedV2):
    """Retired: ``outcome`` was free text."""

    outcome: str | None


ConsultationReason = Literal["manual", "locomotive_sale", "retention"]


@contract("customers.consultation.scheduled", 2)
class ConsultationScheduledV2(EventContract):
    """``reason``: staff scheduled it, a paid order with a locomotive product caused it (``order_id``
    names the order), or a partnership at risk (a retention call)."""

    consultation_id: str
    customer_id: str
    employee_id: str
    reason: ConsultationReason = "manual"
    product_id: str | None
    order_id: str | None = None
    due_at: UtcDatetime


@contract("customers.consultation.scheduled", 1)
class ConsultationScheduledV1(ConsultationScheduledV2):
    """Retired: ``topic`` was free text."""

    topic: str


@contract("customers.consultation.completed", 2)
class ConsultationCompletedV2(EventContract):
    consultation_id: str
    customer_id: str
    employee_id: str
    completed_at: UtcDatetime


@contract("customers.consultation.completed", 1)
class ConsultationCompletedV1(ConsultationCompletedV2):
    """Retired: ``outcome`` was free text."""

    outcome: str


@contract("customers.consultation.cancelled", 1)
class ConsultationCancelledV1(EventContract):
    """A scheduled consultation will not take place (the customer was erased, the order that caused it
    was cancelled, or staff cancelled it). ``reason`` is a code, never free text."""

    consultation_id: str
    customer_id: str
    employee_id: str
    reason: Literal["customer_erased", "order_cancelled", "staff"]
    cancelled_at: UtcDatetime


@contract("customers.announcement.dispatched", 1)
class AnnouncementDispatchedV1(EventContract):
    announcement_id: str
    title: str
    segments: list[str] | None
    channels: list[Channel]
    audience_size: int
    deliveries_by_channel: dict[str, int]
    dispatched_at: UtcDatetime


@contract("customers.announcement.dispatched", 2)
class AnnouncementDispatchedV2(EventContract):
    """Version 2: ``audience_size`` counts every targeted customer (v1 counted only the deliveries
    sent); ``sent + failed == audience_size``; ``deliveries_by_channel`` counts the sent ones."""

    announcement_id: str
    title: str
    segments: list[str] | None
    channels: list[Channel]
    audience_size: int
    sent: int
    failed: int
    deliveries_by_channel: dict[str, int]
    dispatched_at: UtcDatetime


@contract("customers.announcement.delivered", 1)
class AnnouncementDeliveredV1(EventContract):
    """One customer's delivery of an announcement (keyed by the customer: cost to serve per customer).
    Carries no address and no text: the channel and the outcome only."""

    announcement_id: str
    customer_id: str
    channel: Channel
    status: Literal["sent", "failed"]
    delivered_at: UtcDatetime
