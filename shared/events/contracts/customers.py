"""Events published by the customers service on topic ``customers.events`` (key: customer id)."""

from __future__ import annotations

from typing import Literal

from shared.events.registry import EventContract, contract
from shared.events.types import UtcDatetime

Channel = Literal["phone", "email", "sms", "messenger", "post"]
CustomerStatus = Literal["active", "merged", "erased"]


class CustomerSnapshot(EventContract):
    """What other services may keep of a customer (their replica).

    ``revision`` counts the changes of the customer's record (1 at registration, one more for every
    snapshot, merge or erasure published, counted under the record's lock): a replica keeps the
    highest revision it saw, which does not depend on the clocks of the producing replicas.
    Optional: events written before it existed have none (order those by ``occurred_at``).
    """

    customer_id: str
    kind: Literal["person", "company"]
    name: str
    segment: str | None
    status: CustomerStatus
    manager_id: str | None
    preferred_channel: Channel | None
    tags: list[str]
    created_at: UtcDatetime
    revision: int | None = None


@contract("customers.customer.registered", 1)
class CustomerRegisteredV1(CustomerSnapshot):
    source: str | None
    first_contact_channel: Channel | None


@contract("customers.customer.updated", 1)
class CustomerUpdatedV1(CustomerSnapshot):
    changed_fields: list[str]


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


@contract("customers.consent.changed", 1)
class ConsentChangedV1(EventContract):
    customer_id: str
    channel: Channel
    granted: bool
    source: str
    changed_by: str
    changed_at: UtcDatetime


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


@contract("customers.interaction.logged", 1)
class InteractionLoggedV1(EventContract):
    interaction_id: str
    customer_id: str
    channel: Channel
    direction: Literal["in", "out"]
    employee_id: str | None
    outcome: str | None
    occurred_at: UtcDatetime


@contract("customers.consultation.scheduled", 1)
class ConsultationScheduledV1(EventContract):
    consultation_id: str
    customer_id: str
    employee_id: str
    topic: str
    product_id: str | None
    due_at: UtcDatetime


@contract("customers.consultation.completed", 1)
class ConsultationCompletedV1(EventContract):
    consultation_id: str
    customer_id: str
    employee_id: str
    outcome: str
    completed_at: UtcDatetime


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
