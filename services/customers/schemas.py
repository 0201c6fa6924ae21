"""Request and response models of the customers API (Create / Update / Public / Page per entity)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared.http.inputs import Input, Instant, StrictBool
from shared.http.pagination import Page

Channel = Literal["phone", "email", "sms", "messenger", "post"]
CHANNELS: tuple[Channel, ...] = ("phone", "email", "sms", "messenger", "post")
Kind = Literal["person", "company"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64,
                                       pattern=r"^[\w\-. ]+$")]
Segment = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)]
EmployeeId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Address(Input):
    line1: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    line2: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None
    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")]


class CustomerBase(Input):
    kind: Kind
    name: Name
    emails: list[EmailStr] = Field(default_factory=list, max_length=10)
    phones: list[Phone] = Field(default_factory=list, max_length=10)
    tax_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    address: Address | None = None
    segment: Segment | None = None
    source: ShortText | None = Field(default=None, description="how they found us")
    first_contact_channel: Channel | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    preferred_channel: Channel | None = None


class CustomerCreate(CustomerBase):
    registered_at: Instant | None = Field(
        default=None, description="when the customer was first registered, for a customer imported from an older "
                                  "system (not in the future); default: now")

    @model_validator(mode="after")
    def _reachable_or_identified(self) -> CustomerCreate:
        if not (self.emails or self.phones or self.tax_id):
            raise ValueError("give at least one e-mail, phone or tax id, so the customer can be recognised")
        if self.tax_id and self.kind != "company":
            raise ValueError("a tax id is recorded for companies only")
        return self


class CustomerUpdate(Input):
    """Only the fields present are changed; ``null`` clears an optional field."""

    kind: Kind | None = None
    name: Name | None = None
    emails: list[EmailStr] | None = Field(default=None, max_length=10)
    phones: list[Phone] | None = Field(default=None, max_length=10)
    tax_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    address: Address | None = None
    segment: Segment | None = None
    source: ShortText | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    preferred_channel: Channel | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> CustomerUpdate:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for required in ("kind", "name", "emails", "phones", "tags"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be null")
        return self


class CustomerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: Kind
    name: str
    emails: list[str]
    phones: list[str]
    tax_id: str | None
    address: dict | None
    segment: str | None
    source: str | None
    first_contact_channel: str | None
    tags: list[str]
    notes: str | None
    preferred_channel: str | None
    manager_id: str | None
    status: Literal["active", "merged", "erased"]
    merged_into_id: str | None
    consents: dict[str, bool]
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None
    revision: int = Field(description="counts the changes of this record; higher is newer")


CustomersPage = Page[CustomerPublic]


class MergeRequest(Input):
    duplicate_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]


class ConsentItem(Input):
    channel: Channel
    granted: StrictBool
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="where the consent was given or withdrawn, e.g. 'signed form 2026-03', 'phone call'"
    )


class ConsentsUpdate(Input):
    consents: list[ConsentItem] = Field(min_length=1, max_length=5)
    preferred_channel: Channel | None = None

    @field_validator("consents")
    @classmethod
    def _one_per_channel(cls, items: list[ConsentItem]) -> list[ConsentItem]:
        channels = [item.channel for item in items]
        if len(set(channels)) != len(channels):
            raise ValueError("each channel may appear once")
        return items


class ConsentChangePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: Channel
    granted: StrictBool
    source: str
    changed_by: str
    changed_at: datetime


class ConsentsPublic(BaseModel):
    customer_id: str
    preferred_channel: str | None
    consents: dict[str, bool]
    history: list[ConsentChangePublic]


class ManagerAssign(Input):
    employee_id: EmployeeId


class ManagerAssignmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    customer_id: str
    employee_id: str
    assigned_by: str
    assigned_at: datetime
    ended_at: datetime | None


class ManagerPublic(BaseModel):
    customer_id: str
    manager_id: str | None
    history: list[ManagerAssignmentPublic]


class InteractionCreate(Input):
    channel: Channel
    direction: Literal["in", "out"]
    employee_id: EmployeeId | None = None
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
    occurred_at: Instant
    outcome: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class InteractionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    channel: Channel
    direction: Literal["in", "out"]
    employee_id: str | None
    summary: str
    outcome: str | None
    occurred_at: datetime
    recorded_by: str
    recorded_at: datetime


InteractionsPage = Page[InteractionPublic]


class ConsultationCreate(Input):
    topic: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    product_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    due_at: Instant
    employee_id: EmployeeId | None = Field(default=None, description="defaults to the permanent manager")


class ConsultationComplete(Input):
    outcome: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class ConsultationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    employee_id: str
    topic: str
    product_id: str | None
    reason: Literal["manual", "locomotive_sale", "retention"] = Field(
        default="manual", description="staff scheduled it, a paid order with a locomotive product (order_id) "
                                      "or a partnership at risk called for it")
    order_id: str | None = None
    due_at: datetime
    status: Literal["scheduled", "completed", "cancelled"]
    outcome: str | None
    created_by: str
    created_at: datetime
    completed_at: datetime | None
    cancelled_at: datetime | None = None
    cancel_reason: Literal["customer_erased", "order_cancelled", "staff"] | None = None


ConsultationsPage = Page[ConsultationPublic]


class AnnouncementCreate(Input):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
    segments: list[Segment] | None = Field(default=None, min_length=1, max_length=50,
                                           description="null: every segment")
    channels: list[Channel] = Field(min_length=1, max_length=5, description="allowed channels, in order of preference")

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, channels: list[Channel]) -> list[Channel]:
        return list(dict.fromkeys(channels))


class AnnouncementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    body: str
    segments: list[str] | None
    channels: list[str]
    audience_size: int = Field(description="every customer targeted (consenting, in the segments): sent + failed")
    # Defaults only for answers stored for idempotent retries before these fields existed.
    sent: int = Field(default=0, description="deliveries that reached the customer on some channel")
    failed: int = Field(default=0, description="customers no consented channel could reach (see the deliveries' "
                                               "detail)")
    deliveries_by_channel: dict[str, int] = Field(default_factory=dict, description="the sent ones, by channel")
    created_by: str
    created_at: datetime


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    customer_id: str
    channel: Channel
    status: Literal["sent", "failed"]
    detail: str | None
    delivered_at: datetime


DeliveriesPage = Page[DeliveryPublic]
