"""Strict inputs across every service: the findings of testing from outside, and a guard for new services.

The structural tests import every service's ``schemas`` module and routers, found on disk, so a
service written later is checked without a change here.
"""

from __future__ import annotations

import importlib
import json
import typing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import UnionType
from typing import Annotated, Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRouter, iter_route_contexts
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from shared.config import LOCAL_JWT_SECRET
from shared.http.inputs import Input
from tests.http.conftest import ADMIN, MANAGER, SUPPORT, assert_problem, built_services, person, product

# What pydantic's lax mode would accept for each type, and must not.
LAX_BODY: dict[type, list[Any]] = {
    bool: ["yes", "on", "1", "true", 0, 1],
    datetime: [0, 0.5, 1_700_000_000, "0.5", "1700000000", "2026-01-01T00:00:00"],
    Decimal: ["1e3", "1E+3", 1000, 12.5, "NaN", "Infinity", " 1", "+1"],
}
LAX_QUERY: dict[type, list[str]] = {
    bool: ["yes", "on", "1", "0", "True"],
    datetime: ["0", "0.5", "1700000000", "2026-01-01T00:00:00"],
    Decimal: ["1e3", "NaN", " 1"],
}


def _leaves(annotation: Any, metadata: tuple[Any, ...] = ()) -> Iterator[tuple[type, Any]]:
    """Each bool/datetime/Decimal inside ``annotation`` (through Optional, unions, lists, dicts), as
    (kind, the annotation to validate it with, its own Annotated metadata kept)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *extra = typing.get_args(annotation)
        yield from _leaves(inner, (*metadata, *extra))
        return
    if isinstance(annotation, type) and annotation in LAX_BODY:
        yield annotation, Annotated[(annotation, *metadata)] if metadata else annotation
        return
    if origin in (typing.Union, UnionType):
        for arg in typing.get_args(annotation):
            yield from _leaves(arg)  # Field constraints of the union do not apply to each member
        return
    if origin in (list, set, frozenset, tuple, dict):
        for arg in typing.get_args(annotation):
            if arg is not Ellipsis:
                yield from _leaves(arg)


def _field_leaves(info: FieldInfo) -> Iterator[tuple[type, Any]]:
    yield from _leaves(info.annotation, tuple(info.metadata))


def _lax_values_accepted(kind: type, annotation: Any, lax: dict[type, list[Any]]) -> list[Any]:
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    accepted = []
    for value in lax[kind]:
        try:
            adapter.validate_python(value)
        except ValidationError:
            continue
        accepted.append(value)
    return accepted


def input_models() -> list[tuple[str, type[Input]]]:
    models = []
    for service in built_services():
        module = importlib.import_module(f"services.{service}.schemas")
        models += [(f"{service}.{name}", value) for name, value in vars(module).items()
                   if isinstance(value, type) and issubclass(value, Input) and value is not Input]
    return models


def service_routers() -> list[tuple[str, APIRouter]]:
    routers = []
    for service in built_services():
        module = importlib.import_module(f"services.{service}.router")
        routers += [(f"{service}.{name}", value) for name, value in vars(module).items()
                    if isinstance(value, APIRouter)]
    return routers


def test_the_structural_checks_find_the_services_models_and_routes() -> None:
    assert {"customers", "orders"} <= set(built_services())
    names = {name for name, _ in input_models()}
    assert {"customers.ConsentItem", "orders.ProductCreate", "orders.TierSpec"} <= names
    assert service_routers()


def test_the_structural_check_catches_a_bare_type() -> None:
    """The check itself can fail: bare types, also inside Optional and lists, are found lax."""
    class Loose(Input):
        flag: bool
        at: datetime | None = None
        amounts: list[Decimal] = []

    found = {kind for info in Loose.model_fields.values() for kind, annotation in _field_leaves(info)
             if _lax_values_accepted(kind, annotation, LAX_BODY)}
    assert found == {bool, datetime, Decimal}


@pytest.mark.parametrize(("name", "model"), input_models(), ids=lambda v: v if isinstance(v, str) else "")
def test_request_models_use_strict_types(name: str, model: type[Input]) -> None:
    loose = {f"{field}: {kind.__name__} takes {accepted}"
             for field, info in model.model_fields.items()
             for kind, annotation in _field_leaves(info)
             if (accepted := _lax_values_accepted(kind, annotation, LAX_BODY))}
    assert not loose, f"{name} has lax fields (use StrictBool, Instant, MoneyInput/decimal_input): {sorted(loose)}"


def _query_fields() -> Iterator[tuple[str, Any]]:
    for name, router in service_routers():
        app = FastAPI()
        app.include_router(router)
        for route in iter_route_contexts(app.routes):
            pending = [route.dependant] if getattr(route, "dependant", None) else []
            while pending:
                dependant = pending.pop()
                pending += dependant.dependencies
                for field in dependant.query_params + dependant.header_params + dependant.path_params:
                    yield f"{name} {sorted(route.methods)} {route.path} {field.alias}", field


def test_query_parameters_use_strict_types() -> None:
    checked, loose = 0, []
    for where, field in _query_fields():
        for kind, annotation in _field_leaves(field.field_info):
            checked += 1
            if accepted := _lax_values_accepted(kind, annotation, LAX_QUERY):
                loose.append(f"{where}: {kind.__name__} takes {accepted}")
    assert checked >= 5  # created_from/to, due_before, placed_from/to, active: the check saw them
    assert not loose, f"use QueryBool and Instant in query strings: {loose}"


# ----- the findings, against the real services -------------------------------------------------

@pytest.mark.integration
@pytest.mark.parametrize("price", ["1e3", "1E+3", 1000, 1000.5, "NaN", "Infinity", " 1000", "+1000", "1000.001",
                                   "-1000"])
async def test_money_in_any_other_form_than_a_plain_decimal_string_is_422(orders: httpx.AsyncClient,
                                                                           price: Any) -> None:
    assert_problem(await orders.post("/products", json=product(unit_price=price), headers=MANAGER), 422)


@pytest.mark.integration
async def test_money_as_a_plain_decimal_string_is_exact(orders: httpx.AsyncClient) -> None:
    created = await orders.post("/products", json=product(unit_price="1000", unit_cost="999.99"), headers=MANAGER)
    assert created.status_code == 201, created.text
    assert (created.json()["unit_price"], created.json()["unit_cost"]) == ("1000.00", "999.99")
    # The currency still decides the decimals: none for JPY.
    assert_problem(await orders.post("/products", json=product(unit_price="100.50", currency="JPY"),
                                     headers=MANAGER), 422)


@pytest.mark.integration
async def test_a_loyalty_threshold_in_exponent_notation_is_422(orders: httpx.AsyncClient) -> None:
    def program(threshold: Any, percent: Any = "5") -> dict[str, Any]:
        return {"tiers": [{"name": "base", "threshold": "0", "discount_percent": "0"},
                          {"name": "gold", "threshold": threshold, "discount_percent": percent}]}

    for threshold, percent in (("1e6", "5"), (1000000, "5"), ("1000000", "1e1"), ("1000000", 5)):
        assert_problem(await orders.put("/loyalty/program", json=program(threshold, percent), headers=ADMIN), 422)
    accepted = await orders.put("/loyalty/program", json=program("1000000", "5"), headers=ADMIN)
    assert accepted.status_code == 200, accepted.text


@pytest.mark.integration
async def test_money_is_published_as_a_string_with_a_pattern(orders: httpx.AsyncClient) -> None:
    schemas = (await orders.get("/openapi.json")).json()["components"]["schemas"]
    for model, field in (("ProductCreate", "unit_price"), ("TierSpec", "threshold"), ("TierSpec", "discount_percent")):
        schema = schemas[model]["properties"][field]
        assert schema["type"] == "string" and schema["pattern"].startswith("^[0-9]"), schema
        assert "anyOf" not in schema


@pytest.mark.integration
async def test_loose_booleans_and_unix_times_are_422(customers: httpx.AsyncClient) -> None:
    customer = (await customers.post("/customers", json=person(), headers=MANAGER)).json()
    consents = f"/customers/{customer['id']}/consents"
    for granted in ("yes", "on", "1", 0, 1, "true", None):
        body = {"consents": [{"channel": "email", "granted": granted, "source": "form"}]}
        assert_problem(await customers.put(consents, json=body, headers=SUPPORT), 422)
    body = {"consents": [{"channel": "email", "granted": True, "source": "form"}]}
    assert (await customers.put(consents, json=body, headers=SUPPORT)).status_code == 200

    interaction = {"channel": "phone", "direction": "in", "summary": "asked for prices"}
    for at in (0, 1_700_000_000, "1700000000", "2026-01-01T09:00:00"):
        assert_problem(await customers.post(f"/customers/{customer['id']}/interactions",
                                            json={**interaction, "occurred_at": at}, headers=SUPPORT), 422)
        assert_problem(await customers.post(f"/customers/{customer['id']}/consultations",
                                            json={"topic": "prices", "employee_id": "emp-1", "due_at": at},
                                            headers=MANAGER), 422)
    logged = await customers.post(f"/customers/{customer['id']}/interactions",
                                  json={**interaction, "occurred_at": "2026-01-01T09:00:00+07:00"}, headers=SUPPORT)
    assert logged.status_code == 201 and logged.json()["occurred_at"].startswith("2026-01-01T02:00:00")


@pytest.mark.integration
async def test_query_strings_take_only_iso_instants_and_true_or_false(customers: httpx.AsyncClient,
                                                                      orders: httpx.AsyncClient) -> None:
    for value in ("0.5", "0", "1700000000", "2026-01-01T00:00:00"):
        assert_problem(await customers.get("/customers", params={"created_to": value}, headers=MANAGER), 422)
        assert_problem(await customers.get("/consultations", params={"due_before": value}, headers=MANAGER), 422)
        assert_problem(await orders.get("/orders", params={"placed_from": value}, headers=MANAGER), 422)
    for value in ("1", "yes", "on", "True"):
        assert_problem(await orders.get("/products", params={"active": value}, headers=MANAGER), 422)
    assert (await customers.get("/customers", params={"created_to": "2026-01-01T00:00:00Z"},
                                headers=MANAGER)).status_code == 200
    assert (await orders.get("/products", params={"active": "false"}, headers=MANAGER)).status_code == 200


@pytest.mark.integration
@pytest.mark.parametrize("depth", [40, 320, 5_000, 200_000])
async def test_deeply_nested_json_is_422_not_500(customers: httpx.AsyncClient, depth: int) -> None:
    # 320 levels broke the recursive NUL check; far deeper ones break the JSON parser itself.
    # Written out by hand: json.dumps itself recurses, and gives up long before 200 000 levels.
    body = json.dumps(person(notes="*"))[:-1].replace('"*"', "[" * depth + "]" * depth) + "}"
    response = await customers.post("/customers", content=body, headers={**MANAGER, "Content-Type": "application/json"})
    problem = assert_problem(response, 422)
    assert "32 levels" in json.dumps(problem)


@pytest.mark.integration
@pytest.mark.parametrize("subject", ["", "   ", "\t"])
async def test_a_token_without_a_real_subject_is_401(customers: httpx.AsyncClient, subject: str) -> None:
    token = jwt.encode({"sub": subject, "roles": ["manager"], "exp": datetime.now(UTC) + timedelta(hours=1)},
                       LOCAL_JWT_SECRET, algorithm="HS256")
    response = await customers.post("/customers", json=person(), headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
