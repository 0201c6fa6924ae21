"""The customers HTTP API: thin handlers that own the transaction and call the use cases."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.channels import ChannelAdapter
from services.customers.config import CustomersSettings
from services.customers.models import Customer
from services.customers.schemas import (
    AnnouncementCreate,
    AnnouncementPublic,
    ConsentChangePublic,
    ConsentsPublic,
    ConsentsUpdate,
    ConsultationComplete,
    ConsultationCreate,
    ConsultationPublic,
    ConsultationsPage,
    CustomerCreate,
    CustomerPublic,
    CustomersPage,
    CustomerUpdate,
    DeliveriesPage,
    DeliveryPublic,
    InteractionCreate,
    InteractionPublic,
    InteractionsPage,
    ManagerAssign,
    ManagerAssignmentPublic,
    ManagerPublic,
    MergeRequest,
)
from services.customers.use_cases import (
    announcements,
    consents,
    consultations,
    customers,
    erasure,
    interactions,
    managers,
    reading,
)
from shared.http import idempotency
from shared.http.app import DbDep
from shared.http.auth import Principal, require_roles
from shared.http.inputs import Instant
from shared.http.openapi import problems
from shared.http.pagination import PageParams, page_params
from shared.http.responses import json_response
from shared.staff.http import StaffDep

router = APIRouter(tags=["customers"])

Staff = Annotated[Principal, Depends(require_roles("manager", "support"))]
Reader = Annotated[Principal, Depends(require_roles("manager", "support", "analyst", "service"))]
Managers = Annotated[Principal, Depends(require_roles("manager"))]
Privacy = Annotated[Principal, Depends(require_roles("support"))]
Paging = Annotated[PageParams, Depends(page_params)]
CustomerId = Annotated[str, Path(description="customer id", max_length=36)]
ConsultationId = Annotated[str, Path(description="consultation id", max_length=36)]
AnnouncementId = Annotated[str, Path(description="announcement id", max_length=36)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]


async def settings_of(request: Request) -> CustomersSettings:
    return request.app.state.runtime.settings


async def adapter_of(request: Request) -> ChannelAdapter:
    return request.app.state.channel_adapter


SettingsDep = Annotated[CustomersSettings, Depends(settings_of)]
AdapterDep = Annotated[ChannelAdapter, Depends(adapter_of)]


async def _public(session: AsyncSession, customer: Customer) -> CustomerPublic:
    return (await customers.to_public(session, [customer]))[0]


@router.post("/customers", status_code=status.HTTP_201_CREATED, response_model=CustomerPublic,
             responses=problems(409),
             summary="Register a customer at first contact (duplicates by e-mail, phone or tax id answer 409)")
async def register_customer(body: CustomerCreate, db: DbDep, settings: SettingsDep, _: Staff,
                            response: Response) -> CustomerPublic:
    async with db.transaction() as session:
        customer = await customers.register_customer(session, data=body, default_region=settings.default_phone_region)
        public = await _public(session, customer)
    response.headers["Location"] = f"/customers/{customer.id}"
    return public


@router.get("/customers", response_model=CustomersPage, summary="Find customers")
async def list_customers(
    db: DbDep, _: Reader, page: Paging,
    segment: Annotated[str | None, Query(max_length=64)] = None,
    manager_id: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200,
                                   description="name, e-mail or phone")] = None,
    created_from: Annotated[Instant | None, Query()] = None,
    created_to: Annotated[Instant | None, Query()] = None,
    customer_status: Annotated[Literal["active", "merged", "erased"] | None, Query(alias="status")] = None,
) -> Response:
    async with db.read() as conn:
        found = await reading.list_customers(
            conn, page=page, segment=segment, manager_id=manager_id, tag=tag, search=q,
            created_from=created_from, created_to=created_to, status=customer_status)
    return json_response(found)


@router.get("/customers/{customer_id}", response_model=CustomerPublic,
            responses=problems(404),
            summary="One customer (merged ones name their survivor)")
async def get_customer(customer_id: CustomerId, db: DbDep, _: Reader) -> Response:
    async with db.read() as conn:
        return json_response(await reading.get_customer(conn, customer_id=customer_id))


@router.patch("/customers/{customer_id}", response_model=CustomerPublic, summary="Change a profile",
              responses=problems(404, 409, 410))
async def update_customer(customer_id: CustomerId, body: CustomerUpdate, db: DbDep, settings: SettingsDep,
                          _: Staff) -> CustomerPublic:
    async with db.transaction() as session:
        customer = await customers.update_customer(session, customer_id=customer_id, data=body,
                                                   default_region=settings.default_phone_region)
        return await _public(session, customer)


@router.post("/customers/{customer_id}/merge", response_model=CustomerPublic,
             responses=problems(404, 409, 410),
             summary="Merge a duplicate into this customer (the duplicate is retired)")
async def merge_customers(customer_id: CustomerId, body: MergeRequest, db: DbDep, _: Managers) -> CustomerPublic:
    async with db.transaction() as session:
        survivor = await customers.merge_customers(session, survivor_id=customer_id, duplicate_id=body.duplicate_id)
        return await _public(session, survivor)


@router.post("/customers/{customer_id}/erase", response_model=CustomerPublic,
             responses=problems(404, 409),
             summary="Anonymise personal data on the customer's request (right to erasure)")
async def erase_customer(customer_id: CustomerId, db: DbDep, _: Privacy) -> CustomerPublic:
    async with db.transaction() as session:
        return await _public(session, await erasure.erase_customer(session, customer_id=customer_id))


@router.get("/customers/{customer_id}/consents", response_model=ConsentsPublic, summary="Consents and their history",
            responses=problems(404))
async def get_consents(customer_id: CustomerId, db: DbDep, _: Reader) -> ConsentsPublic:
    async with db.transaction() as session:
        customer = await customers.get_customer(session, customer_id=customer_id)
        return await _consents_public(session, customer)


@router.put("/customers/{customer_id}/consents", response_model=ConsentsPublic,
            responses=problems(404, 409, 410),
            summary="Record consent given or withdrawn per channel")
async def set_consents(customer_id: CustomerId, body: ConsentsUpdate, db: DbDep, who: Staff) -> ConsentsPublic:
    async with db.transaction() as session:
        customer = await consents.set_consents(session, customer_id=customer_id, data=body, actor=who.subject)
        return await _consents_public(session, customer)


async def _consents_public(session: AsyncSession, customer: Customer) -> ConsentsPublic:
    current = (await customers.consents_of(session, [customer.id]))[customer.id]
    history = await consents.consent_history(session, customer_id=customer.id)
    return ConsentsPublic(customer_id=customer.id, preferred_channel=customer.preferred_channel, consents=current,
                          history=[ConsentChangePublic.model_validate(h) for h in history])


@router.get("/customers/{customer_id}/manager", response_model=ManagerPublic, summary="Manager and history",
            responses=problems(404))
async def get_manager(customer_id: CustomerId, db: DbDep, _: Reader) -> ManagerPublic:
    async with db.transaction() as session:
        customer = await customers.get_customer(session, customer_id=customer_id)
        return await _manager_public(session, customer)


@router.put("/customers/{customer_id}/manager", response_model=ManagerPublic,
            responses=problems(404, 409, 410),
            summary="Assign the permanent account manager")
async def assign_manager(customer_id: CustomerId, body: ManagerAssign, db: DbDep, staff: StaffDep,
                         who: Managers) -> ManagerPublic:
    await staff.require(db, {"employee_id": body.employee_id})
    async with db.transaction() as session:
        customer = await managers.assign_manager(session, customer_id=customer_id, employee_id=body.employee_id,
                                                 actor=who.subject)
        return await _manager_public(session, customer)


async def _manager_public(session: AsyncSession, customer: Customer) -> ManagerPublic:
    history = await managers.manager_history(session, customer_id=customer.id)
    return ManagerPublic(customer_id=customer.id, manager_id=customer.manager_id,
                         history=[ManagerAssignmentPublic.model_validate(h) for h in history])


@router.post("/customers/{customer_id}/interactions", status_code=status.HTTP_201_CREATED,
             responses=problems(404, 409, 410),
             response_model=InteractionPublic, summary="Log a touch with the customer")
async def log_interaction(customer_id: CustomerId, body: InteractionCreate, db: DbDep, staff: StaffDep,
                          who: Staff) -> InteractionPublic:
    await staff.require(db, {"employee_id": body.employee_id})
    async with db.transaction() as session:
        interaction = await interactions.log_interaction(session, customer_id=customer_id, data=body, actor=who.subject)
    return InteractionPublic.model_validate(interaction)


@router.get("/customers/{customer_id}/interactions", response_model=InteractionsPage,
            responses=problems(404),
            summary="The interaction log, most recent first")
async def list_interactions(customer_id: CustomerId, db: DbDep, _: Staff, page: Paging) -> InteractionsPage:
    async with db.transaction() as session:
        rows, next_cursor = await interactions.list_interactions(session, customer_id=customer_id, page=page)
    return InteractionsPage(items=[InteractionPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/customers/{customer_id}/consultations", status_code=status.HTTP_201_CREATED,
             responses=problems(404, 409, 410),
             response_model=ConsultationPublic, summary="Schedule a follow-up consultation")
async def schedule_consultation(customer_id: CustomerId, body: ConsultationCreate, db: DbDep, staff: StaffDep,
                                who: Staff) -> ConsultationPublic:
    await staff.require(db, {"employee_id": body.employee_id})
    async with db.transaction() as session:
        consultation = await consultations.schedule_consultation(session, customer_id=customer_id, data=body,
                                                                 actor=who.subject)
    return ConsultationPublic.model_validate(consultation)


@router.get("/consultations", response_model=ConsultationsPage, summary="A manager's agenda, soonest first")
async def list_consultations(
    db: DbDep, _: Staff, page: Paging,
    employee_id: Annotated[str | None, Query(max_length=64)] = None,
    consultation_status: Annotated[Literal["scheduled", "completed", "cancelled"] | None, Query(alias="status")] = None,
    due_before: Annotated[Instant | None, Query()] = None,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
) -> ConsultationsPage:
    async with db.transaction() as session:
        rows, next_cursor = await consultations.list_consultations(
            session, page=page, employee_id=employee_id, status=consultation_status, due_before=due_before,
            customer_id=customer_id)
    return ConsultationsPage(items=[ConsultationPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/consultations/{consultation_id}/complete", response_model=ConsultationPublic,
             responses=problems(404, 409),
             summary="Complete a consultation with its outcome")
async def complete_consultation(consultation_id: ConsultationId, body: ConsultationComplete, db: DbDep,
                                _: Staff) -> ConsultationPublic:
    async with db.transaction() as session:
        consultation = await consultations.complete_consultation(session, consultation_id=consultation_id,
                                                                 outcome=body.outcome)
    return ConsultationPublic.model_validate(consultation)


@router.post("/announcements", status_code=status.HTTP_201_CREATED, response_model=AnnouncementPublic,
             summary="Announce company news to consenting customers (retry safely with Idempotency-Key)")
async def create_announcement(body: AnnouncementCreate, db: DbDep, who: Managers, adapter: AdapterDep,
                              response: Response, idempotency_key: IdempotencyKey = None) -> AnnouncementPublic:
    scope = f"announcements:{who.subject}"  # keys are per sender
    async with db.transaction() as session:
        if idempotency_key is not None:
            stored = await idempotency.begin(session, scope=scope, key=idempotency_key,
                                             request_fingerprint=idempotency.fingerprint(body.model_dump(mode="json")))
            if stored is not None:
                response.status_code = stored.status_code
                return AnnouncementPublic.model_validate(stored.body)
        announcement, by_channel = await announcements.create_announcement(session, data=body, actor=who.subject,
                                                                           adapter=adapter)
        public = AnnouncementPublic.model_validate({**announcement.model_dump(), "deliveries_by_channel": by_channel})
        if idempotency_key is not None:
            await idempotency.complete(session, scope=scope, key=idempotency_key, status_code=201,
                                       body=public.model_dump(mode="json"))
    return public


@router.get("/announcements/{announcement_id}", response_model=AnnouncementPublic, summary="One announcement",
            responses=problems(404))
async def get_announcement(announcement_id: AnnouncementId, db: DbDep, _: Reader) -> AnnouncementPublic:
    async with db.transaction() as session:
        announcement, by_channel = await announcements.get_announcement(session, announcement_id=announcement_id)
    return AnnouncementPublic.model_validate({**announcement.model_dump(), "deliveries_by_channel": by_channel})


@router.get("/announcements/{announcement_id}/deliveries", response_model=DeliveriesPage,
            responses=problems(404),
            summary="Who received the announcement, on which channel")
async def list_deliveries(announcement_id: AnnouncementId, db: DbDep, _: Reader, page: Paging) -> DeliveriesPage:
    async with db.transaction() as session:
        rows, next_cursor = await announcements.list_deliveries(session, announcement_id=announcement_id, page=page)
    return DeliveriesPage(items=[DeliveryPublic.model_validate(r) for r in rows], next_cursor=next_cursor)

