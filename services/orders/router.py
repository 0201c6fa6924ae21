"""The orders HTTP API: thin handlers that own the transaction and call the use cases.

Roles: managers and support place and manage orders; managers keep the catalogue; analysts and
other services read; only admin changes the loyalty program (admin may do anything).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response, status

from services.orders.config import OrdersSettings
from services.orders.customers_client import CustomerDirectory
from services.orders.errors import CustomerUnknown
from services.orders.schemas import (
    CUSTOMER_ID_MAX,
    ID_PATTERN,
    CancelRequest,
    Category,
    CustomerRef,
    EmployeeId,
    FulfilRequest,
    LedgerEntryPublic,
    LedgerPage,
    LoyaltyStatusPublic,
    OrderChannel,
    OrderCreate,
    OrderPublic,
    OrdersPage,
    OrderStatus,
    PaymentCreate,
    ProductCreate,
    ProductPricePublic,
    ProductPublic,
    ProductsPage,
    ProductUpdate,
    ProgramPublic,
    ProgramUpdate,
    ReevaluationPublic,
    ReturnCreate,
    ReturnPublic,
)
from services.orders.use_cases import catalogue as catalogue_cases
from services.orders.use_cases import customers as customer_cases
from services.orders.use_cases import loyalty as loyalty_cases
from services.orders.use_cases import orders as order_cases
from services.orders.use_cases import reading as order_reads
from services.orders.use_cases import returns as return_cases
from shared.clients.replica_fallback import ReplicaFallback, retry_after_learning
from shared.db.batch import defer_inserts
from shared.db.engine import Database
from shared.http import idempotency
from shared.http.app import DbDep
from shared.http.auth import Principal, require_roles
from shared.http.errors import DependencyUnavailable
from shared.http.inputs import Instant, QueryBool
from shared.http.openapi import problems
from shared.http.pagination import PageParams, page_params
from shared.http.responses import json_response
from shared.staff.directory import StaffMiss
from shared.staff.http import StaffDep

router = APIRouter()

Staff = Annotated[Principal, Depends(require_roles("manager", "support"))]
Reader = Annotated[Principal, Depends(require_roles("manager", "support", "analyst", "service"))]
Catalogue = Annotated[Principal, Depends(require_roles("manager"))]
Admin = Annotated[Principal, Depends(require_roles())]
Sweeper = Annotated[Principal, Depends(require_roles("service"))]
Paging = Annotated[PageParams, Depends(page_params)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]
OrderId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="order id")]
ProductId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="product id")]
CustomerId = Annotated[str, Path(min_length=1, max_length=CUSTOMER_ID_MAX, pattern=ID_PATTERN,
                                  description="customer id")]


async def settings_of(request: Request) -> OrdersSettings:
    return request.app.state.runtime.settings


async def directory_of(request: Request) -> CustomerDirectory:
    return request.app.state.customer_directory


SettingsDep = Annotated[OrdersSettings, Depends(settings_of)]
DirectoryDep = Annotated[CustomerDirectory, Depends(directory_of)]


# ----- catalogue ------------------------------------------------------------------------------

catalogue = APIRouter(tags=["catalogue"])


@catalogue.post("/products", status_code=status.HTTP_201_CREATED, response_model=ProductPublic,
                responses=problems(409, 422), summary="Add a product (sku unique) with its price and cost")
async def create_product(body: ProductCreate, db: DbDep, settings: SettingsDep, who: Catalogue,
                         response: Response) -> ProductPublic:
    async with db.transaction() as session:
        product = await catalogue_cases.create_product(session, data=body, actor=who.subject,
                                                       default_currency=settings.default_currency)
    response.headers["Location"] = f"/products/{product.id}"
    return ProductPublic.model_validate(product)


@catalogue.get("/products", response_model=ProductsPage, responses=problems(422), summary="Browse the catalogue")
async def list_products(
    db: DbDep, _: Reader, page: Paging,
    category: Annotated[Category | None, Query()] = None,
    active: Annotated[QueryBool | None, Query()] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200,
                                   description="sku or name")] = None,
) -> ProductsPage:
    async with db.transaction() as session:
        rows, next_cursor = await catalogue_cases.list_products(session, page=page, category=category, active=active,
                                                                search=q)
    return ProductsPage(items=[ProductPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@catalogue.get("/products/{product_id}", response_model=ProductPublic, responses=problems(404),
               summary="One product")
async def get_product(product_id: ProductId, db: DbDep, _: Reader) -> ProductPublic:
    async with db.transaction() as session:
        return ProductPublic.model_validate(await catalogue_cases.get_product(session, product_id=product_id))


@catalogue.patch("/products/{product_id}", response_model=ProductPublic, responses=problems(404, 409, 422),
                 summary="Change a product (a new price or cost opens a new price period)")
async def update_product(product_id: ProductId, body: ProductUpdate, db: DbDep, who: Catalogue) -> ProductPublic:
    async with db.transaction() as session:
        product = await catalogue_cases.update_product(session, product_id=product_id, data=body, actor=who.subject)
    return ProductPublic.model_validate(product)


@catalogue.get("/products/{product_id}/prices", response_model=list[ProductPricePublic], responses=problems(404),
               summary="Price and cost history, the current period first")
async def price_history(product_id: ProductId, db: DbDep, _: Reader) -> list[ProductPricePublic]:
    async with db.transaction() as session:
        rows = await catalogue_cases.price_history(session, product_id=product_id)
    return [ProductPricePublic.model_validate(r) for r in rows]


# ----- orders -----------------------------------------------------------------------------------

orders = APIRouter(tags=["orders"])


async def _learn_customer(db: Database, directory: CustomerDirectory, customer_id: str) -> None:
    """Ask the customers service about a customer the replica has not heard of, and keep the answer.

    Runs outside any transaction: no database lock is held while waiting on another service (on
    SQLite that would stop every writer).
    """
    facts = await directory.lookup(customer_id)
    if facts is None:
        raise CustomerUnknown(customer_id)
    async with db.transaction() as session:
        await customer_cases.record_customer_facts(session, facts=facts)


def _replayed(stored: idempotency.StoredResponse, response: Response) -> OrderPublic:
    public = OrderPublic.model_validate(stored.body)
    response.status_code = stored.status_code
    response.headers["Location"] = f"/orders/{public.id}"
    return public


@orders.post("/orders", status_code=status.HTTP_201_CREATED, response_model=OrderPublic,
             responses=problems(409, (410, "The customer was erased"),
                                (503, "The customers service could not verify the customer")),
             summary="Place an order priced from the catalogue with the customer's loyalty discount "
                     "(retry safely with Idempotency-Key)")
async def place_order(body: OrderCreate, db: DbDep, settings: SettingsDep, directory: DirectoryDep, who: Staff,
                      staff: StaffDep, response: Response, idempotency_key: IdempotencyKey = None) -> OrderPublic:
    """One transaction on the hot path: the order placed and the answer stored with it, the key
    claimed last (no lookup first: a retry, rare, redoes the work, finds the key taken, is rolled
    back and gets the stored answer; so does a retry whose work fails now). Only a customer the
    replica does not know yet costs another attempt, after asking the customers service outside any
    transaction; likewise a sales employee the staff replica has not heard of (incentives is asked)."""
    scope = f"orders.place:{who.subject}"
    fingerprint = idempotency.fingerprint(body.model_dump(mode="json")) if idempotency_key is not None else ""
    if idempotency_key is not None:
        idempotency.check_key(idempotency_key)

    async def place() -> OrderPublic:
        async with db.transaction() as session:
            defer_inserts(session)  # the order, its lines, the outbox row and the answer: one round trip
            await staff.check(session, {"sales_employee_id": body.sales_employee_id})
            order, lines = await order_cases.place_order(session, data=body, actor=who.subject,
                                                         currency=settings.default_currency)
            public = order_cases.order_public(order, lines)
            if idempotency_key is not None:
                await idempotency.record(session, scope=scope, key=idempotency_key,
                                         request_fingerprint=fingerprint, status_code=201,
                                         body=public.model_dump_json())
        response.headers["Location"] = f"/orders/{order.id}"
        return public

    try:
        return await retry_after_learning(
            place,
            # A second miss of the customer: the 422 it is (the replica still does not know the id).
            ReplicaFallback(CustomerUnknown, learn=lambda _: _learn_customer(db, directory, body.customer_id)),
            ReplicaFallback(StaffMiss, learn=lambda miss: staff.require(db, miss.employees),
                            exhausted=lambda _: DependencyUnavailable(
                                "the staff directory's answer could not be kept; try again",
                                dependency="incentives")))
    except Exception as failure:
        if idempotency_key is None:
            raise
        # A request with this key committed first (KeyTaken: ours was rolled back), or ours failed
        # and may be a retry of one that succeeded: the first answer is ours.
        return _replayed(await idempotency.earlier_answer(db, scope=scope, key=idempotency_key,
                                                          request_fingerprint=fingerprint, failure=failure),
                         response)


async def _orders_page(db: Database, page: PageParams, **filters: Any) -> Response:
    async with db.read() as conn:
        return json_response(await order_reads.list_orders(conn, page=page, **filters))


@orders.get("/orders", response_model=OrdersPage, responses=problems(422), summary="Find orders, newest first")
async def list_orders(
    db: DbDep, _: Reader, page: Paging,
    customer_id: Annotated[CustomerRef | None, Query()] = None,
    sales_employee_id: Annotated[EmployeeId | None, Query()] = None,
    order_status: Annotated[OrderStatus | None, Query(alias="status")] = None,
    channel: Annotated[OrderChannel | None, Query()] = None,
    placed_from: Annotated[Instant | None, Query(description="inclusive")] = None,
    placed_to: Annotated[Instant | None, Query(description="exclusive")] = None,
) -> Response:
    return await _orders_page(db, page, customer_id=customer_id, sales_employee_id=sales_employee_id,
                              status=order_status, channel=channel, placed_from=placed_from, placed_to=placed_to)


@orders.get("/customers/{customer_id}/orders", response_model=OrdersPage, responses=problems(422),
            summary="A customer's orders, newest first")
async def customer_orders(
    customer_id: CustomerId, db: DbDep, _: Reader, page: Paging,
    order_status: Annotated[OrderStatus | None, Query(alias="status")] = None,
    placed_from: Annotated[Instant | None, Query(description="inclusive")] = None,
    placed_to: Annotated[Instant | None, Query(description="exclusive")] = None,
) -> Response:
    return await _orders_page(db, page, customer_id=customer_id, status=order_status, placed_from=placed_from,
                              placed_to=placed_to)


@orders.get("/orders/{order_id}", response_model=OrderPublic, responses=problems(404), summary="One order")
async def get_order(order_id: OrderId, db: DbDep, _: Reader) -> OrderPublic:
    async with db.transaction() as session:
        order = await order_cases.get_order(session, order_id=order_id)
        lines = await order_cases.order_lines(session, [order.id])
    return order_cases.order_public(order, lines[order.id])


@orders.post("/orders/{order_id}/pay", response_model=OrderPublic, responses=problems(404, 409, 422),
             summary="Record payment (the net accrues to loyalty); paying a paid order changes nothing")
async def pay_order(order_id: OrderId, db: DbDep, settings: SettingsDep, _: Staff,
                    body: Annotated[PaymentCreate | None, Body()] = None) -> OrderPublic:
    async with db.transaction() as session:
        order, lines = await order_cases.pay_order(session, order_id=order_id, data=body or PaymentCreate(),
                                                   currency=settings.default_currency)
    return order_cases.order_public(order, lines)


@orders.post("/orders/{order_id}/fulfil", response_model=OrderPublic, responses=problems(404, 409),
             summary="Mark a paid order delivered; fulfilling a fulfilled order changes nothing")
async def fulfil_order(order_id: OrderId, db: DbDep, _: Staff,
                       body: Annotated[FulfilRequest | None, Body()] = None) -> OrderPublic:
    async with db.transaction() as session:
        order, lines = await order_cases.fulfil_order(session, order_id=order_id, data=body)
    return order_cases.order_public(order, lines)


@orders.post("/orders/{order_id}/cancel", response_model=OrderPublic, responses=problems(404, 409, 422),
             summary="Cancel before fulfilment (a paid order's loyalty accrual is reversed)")
async def cancel_order(order_id: OrderId, db: DbDep, settings: SettingsDep, _: Staff,
                       body: Annotated[CancelRequest | None, Body()] = None) -> OrderPublic:
    async with db.transaction() as session:
        order, lines = await order_cases.cancel_order(session, order_id=order_id, data=body or CancelRequest(),
                                                      currency=settings.default_currency)
    return order_cases.order_public(order, lines)


@orders.post("/orders/{order_id}/returns", status_code=status.HTTP_201_CREATED, response_model=ReturnPublic,
             responses=problems(404, 409, 422),
             summary="Return goods of a paid order, whole or in part (retry safely with Idempotency-Key)")
async def create_return(order_id: OrderId, db: DbDep, settings: SettingsDep, who: Staff, response: Response,
                        body: Annotated[ReturnCreate | None, Body()] = None,
                        idempotency_key: IdempotencyKey = None) -> ReturnPublic:
    data = body or ReturnCreate()
    scope = f"orders.return:{who.subject}:{order_id}"
    async with db.transaction() as session:
        if idempotency_key is not None:
            stored = await idempotency.begin(session, scope=scope, key=idempotency_key,
                                             request_fingerprint=idempotency.fingerprint(data.model_dump(mode="json")))
            if stored is not None:
                response.status_code = stored.status_code
                return ReturnPublic.model_validate(stored.body)
        order_return, lines = await return_cases.create_return(session, order_id=order_id, data=data, actor=who.subject,
                                                               currency=settings.default_currency)
        public = return_cases.return_public(order_return, lines)
        if idempotency_key is not None:
            await idempotency.complete(session, scope=scope, key=idempotency_key, status_code=201,
                                       body=public.model_dump(mode="json"))
    response.headers["Location"] = f"/orders/{order_id}/returns"
    return public


@orders.get("/orders/{order_id}/returns", response_model=list[ReturnPublic], responses=problems(404),
            summary="The returns of an order, oldest first")
async def list_returns(order_id: OrderId, db: DbDep, _: Reader) -> list[ReturnPublic]:
    async with db.transaction() as session:
        returns = await return_cases.list_returns(session, order_id=order_id)
    return [return_cases.return_public(r, lines) for r, lines in returns]


# ----- loyalty ----------------------------------------------------------------------------------

loyalty = APIRouter(tags=["loyalty"])


@loyalty.get("/loyalty/program", response_model=ProgramPublic, summary="The loyalty program in force")
async def get_program(db: DbDep, settings: SettingsDep, _: Reader) -> ProgramPublic:
    async with db.transaction() as session:
        program, row = await loyalty_cases.current_program(session, currency=settings.default_currency)
    return ProgramPublic.model_validate(loyalty_cases.program_public(program, row))


@loyalty.put("/loyalty/program", response_model=ProgramPublic, responses=problems(409, 422),
             summary="Replace the loyalty program (admin); every customer's tier is re-evaluated")
async def put_program(body: ProgramUpdate, db: DbDep, settings: SettingsDep, who: Admin) -> ProgramPublic:
    async with db.transaction() as session:
        program, row, _changes = await loyalty_cases.put_program(session, data=body, actor=who.subject,
                                                                 currency=settings.default_currency)
    return ProgramPublic.model_validate(loyalty_cases.program_public(program, row))


@loyalty.post("/loyalty/reevaluate", response_model=ReevaluationPublic,
              summary="Re-evaluate every tier now (a periodic job, for rolling windows)")
async def reevaluate(db: DbDep, settings: SettingsDep, _: Sweeper) -> ReevaluationPublic:
    async with db.transaction() as session:
        accounts, changes = await loyalty_cases.reevaluate_all(session, currency=settings.default_currency)
    return ReevaluationPublic(accounts=accounts, tier_changes=changes)


@loyalty.get("/loyalty/customers/{customer_id}", response_model=LoyaltyStatusPublic, responses=problems(404, 409),
             summary="Spend in the window, tier and discount in force, the next tier and what it still takes")
async def loyalty_status(customer_id: CustomerId, db: DbDep, settings: SettingsDep, _: Reader) -> LoyaltyStatusPublic:
    async with db.transaction() as session:
        return LoyaltyStatusPublic.model_validate(
            await loyalty_cases.loyalty_status(session, customer_id=customer_id, currency=settings.default_currency))


@loyalty.get("/loyalty/customers/{customer_id}/ledger", response_model=LedgerPage, responses=problems(422),
             summary="The customer's loyalty ledger, newest first")
async def loyalty_ledger(customer_id: CustomerId, db: DbDep, _: Reader, page: Paging) -> LedgerPage:
    async with db.transaction() as session:
        rows, next_cursor = await loyalty_cases.list_ledger(session, customer_id=customer_id, page=page)
    return LedgerPage(items=[LedgerEntryPublic.model_validate({**r.model_dump(), "return_id": r.ref or None})
                             for r in rows], next_cursor=next_cursor)


router.include_router(catalogue)
router.include_router(orders)
router.include_router(loyalty)
