"""Events published by the feedback service on topic ``feedback.events``.

Kafka key: the customer id for case and SLA events (one customer's cases stay in order), the
standard id for service-standard events.

No free text travels in these events: a case's subject and body, responses, resolution texts and
rating comments may hold personal data, and topics are kept for rebuilds long after an erasure.
Events carry ids, classifications, instants and amounts only; whoever needs the text asks the
feedback API (which anonymises it on erasure).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.events.registry import EventContract, contract
from shared.events.types import DecimalString, UtcDatetime

CaseKind = Literal["complaint", "claim", "objection", "suggestion", "comment"]
CasePriority = Literal["low", "normal", "high", "urgent"]
CaseStatus = Literal["new", "assigned", "in_progress", "waiting_on_customer", "resolved", "closed"]
CaseChannel = Literal["phone", "email", "sms", "messenger", "post", "in_person", "web"]
ResponseKind = Literal["reply", "note", "customer_message"]
CompensationKind = Literal["none", "refund", "credit_note", "replacement", "gift"]
ResolutionOutcome = Literal["upheld", "partially_upheld", "rejected", "answered", "implemented", "noted"]
SlaTarget = Literal["first_response", "resolution"]
StandardKind = Literal["sales_script", "instruction", "memo", "code_of_conduct", "dress_code", "workplace_standard",
                       "conflict_algorithm", "office_design"]


class CaseFacts(EventContract):
    """What every case event carries: who and what the case is about, and how it is classified.

    ``employee_id`` is the employee the case is attributed to (involved in what the customer
    complains about), ``assignee_id`` who handles it; either may be None. ``category_path`` lists the
    category ids from the root down to ``category_id`` (a subtree filter without another lookup).
    """

    case_id: str
    case_number: str = Field(description="human reference, e.g. C-2026-000123")
    kind: CaseKind
    customer_id: str
    order_id: str | None
    product_id: str | None
    category_id: str | None
    category_path: list[str]
    priority: CasePriority
    channel: CaseChannel
    status: CaseStatus
    assignee_id: str | None
    employee_id: str | None


@contract("feedback.case.received", 1)
class CaseReceivedV1(CaseFacts):
    """A new case; ``line_nos`` are the order lines a claim is about (empty: the whole order or none)."""

    line_nos: list[int]
    sla_policy_version: int
    first_response_due_at: UtcDatetime | None
    resolution_due_at: UtcDatetime | None
    received_at: UtcDatetime


@contract("feedback.case.assigned", 1)
class CaseAssignedV1(CaseFacts):
    previous_assignee_id: str | None
    assigned_by: str
    assigned_at: UtcDatetime


@contract("feedback.case.responded", 1)
class CaseRespondedV1(CaseFacts):
    """A reply to the customer, an internal note, or a message from the customer recorded by staff.

    ``first_response`` is True on the reply that stopped the first-response clock.
    """

    response_id: str
    response_kind: ResponseKind
    response_channel: CaseChannel | None
    author_id: str
    first_response: bool
    first_response_working_seconds: int | None
    cited_standard_id: str | None
    cited_standard_version: int | None
    responded_at: UtcDatetime


@contract("feedback.case.waiting", 1)
class CaseWaitingV1(CaseFacts):
    """The case waits on the customer: the resolution clock is paused."""

    by: str
    waiting_since: UtcDatetime


@contract("feedback.case.resumed", 1)
class CaseResumedV1(CaseFacts):
    """The customer came back: the resolution clock runs again."""

    by: str
    resumed_at: UtcDatetime
    waited_working_seconds: int


@contract("feedback.case.resolved", 1)
class CaseResolvedV1(CaseFacts):
    """A resolution, with the compensation given (``compensation_amount`` is zero for ``none``).

    ``resolution_no`` counts the resolutions of this case (1, then 2 after a reopen, ...). The
    ``*_breached`` flags are sticky: a target missed once stays missed.
    """

    resolution_no: int
    outcome: ResolutionOutcome
    compensation: CompensationKind
    compensation_amount: DecimalString
    currency: str
    first_response_working_seconds: int | None
    resolution_working_seconds: int
    first_response_breached: bool
    resolution_breached: bool
    cited_standard_id: str | None
    cited_standard_version: int | None
    resolved_by: str
    resolved_at: UtcDatetime


@contract("feedback.case.reopened", 1)
class CaseReopenedV1(CaseFacts):
    reopened_resolution_no: int
    by: str
    reopened_at: UtcDatetime


@contract("feedback.case.closed", 1)
class CaseClosedV1(CaseFacts):
    by: str
    closed_at: UtcDatetime


@contract("feedback.case.rated", 1)
class CaseRatedV1(CaseFacts):
    """Customer satisfaction (CSAT 1-5) with one resolution; the comment stays in the feedback API."""

    resolution_no: int
    rating: int = Field(ge=1, le=5)
    rated_at: UtcDatetime


@contract("feedback.sla.breached", 1)
class SlaBreachedV1(EventContract):
    """A case missed a target: reported once per case, target and resolution round."""

    case_id: str
    case_number: str
    kind: CaseKind
    customer_id: str
    priority: CasePriority
    category_id: str | None
    assignee_id: str | None
    employee_id: str | None
    target: SlaTarget
    target_seconds: int
    working_time: bool = Field(description="whether the target counts working time (else calendar time)")
    due_at: UtcDatetime
    breached_at: UtcDatetime
    escalation_level: int


@contract("feedback.standard.published", 1)
class StandardPublishedV1(EventContract):
    """A version of a service-quality standard (sales script, code of conduct, ...) takes effect."""

    standard_id: str
    kind: StandardKind
    title: str
    version: int
    effective_from: UtcDatetime
    owner_id: str
    required_roles: list[str]
    published_by: str
    published_at: UtcDatetime


@contract("feedback.standard.acknowledged", 1)
class StandardAcknowledgedV1(EventContract):
    """An employee read and accepted a version; ``employee_verified`` is False while the staff
    directory replica has not heard of the employee yet."""

    standard_id: str
    version: int
    employee_id: str
    employee_verified: bool
    acknowledged_at: UtcDatetime
