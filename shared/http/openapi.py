"""The problem responses in the published OpenAPI documents: derived where they can be, declared where not.

Every error this API gives is ``application/problem+json`` with the shared :class:`Problem`
schema. The app factory derives what follows from a route's shape (:func:`document_problems`):

- an auth dependency: 401 (no or a bad token) and, with a role check, 403;
- a body: 413 (too large) and 422;
- parameters (path, query, header): 422;
- every service route: 503 (the database is unavailable; ``Retry-After``).

A route declares its domain ones (404, 409, 410, or a 422/503 of its own) with
``responses=problems(404, 409)``; a pair ``(status, description)`` says what the status means there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import BaseRoute

from shared.http.auth import current_principal
from shared.http.errors import PROBLEM_JSON, RETRY_AFTER_SECONDS

PROBLEM_REF = "#/components/schemas/Problem"

DESCRIPTIONS: dict[int, str] = {
    401: "No valid bearer token",
    403: "The token's roles do not allow this",
    404: "Not found",
    409: "Conflict with the current state",
    410: "Gone",
    413: "The body is too large",
    422: "Invalid request (the problem's `errors` name each field)",
    503: f"The database is unavailable: retry after `Retry-After` seconds (about {RETRY_AFTER_SECONDS})",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}},
}


class ValidationIssue(BaseModel):
    loc: list[str] = Field(description="where: body, query, path or header, then the field names")
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem. Extensions may follow the standard members (e.g. ``field``, ids)."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="a URI reference naming the kind of problem, e.g. /problems/not-found")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(default=None, description="the request path")
    errors: list[ValidationIssue] | None = Field(default=None, description="422 from validation: one per issue")


def problem_doc(status: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response object of one problem status."""
    doc: dict[str, Any] = {"description": description or DESCRIPTIONS.get(status, "Problem"),
                           "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}}
    if status in _HEADERS:
        doc["headers"] = _HEADERS[status]
    return doc


def problems(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: its domain problems, e.g. ``problems(404, (409, "already paid"))``."""
    declared: dict[int | str, dict[str, Any]] = {}
    for entry in statuses:
        status, description = entry if isinstance(entry, tuple) else (entry, None)
        declared[status] = problem_doc(status, description)
    return declared


def _dependants(root: Dependant) -> Iterator[Dependant]:
    pending = [root]
    while pending:
        dependant = pending.pop()
        yield dependant
        pending.extend(dependant.dependencies)


def service_routes(app: FastAPI, *, skip: Iterable[BaseRoute] = ()) -> list[Any]:
    """The app's API routes as served (included routers' prefixes, tags and dependencies applied)."""
    skipped = {id(route) for route in skip}
    return [context for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute) and id(context.original_route) not in skipped]


def derived_statuses(route: Any) -> list[int]:
    """The problem statuses a route (an ``APIRoute`` or a served route context) gives because of its shape."""
    dependants = list(_dependants(route.dependant))
    calls: list[Callable[..., Any] | None] = [d.call for d in dependants]
    statuses: list[int] = []
    if current_principal in calls:
        statuses.append(401)
    if any(getattr(call, "required_roles", None) is not None for call in calls):
        statuses.append(403)
    if route.body_field is not None:
        statuses.append(413)
    has_parameters = any(d.path_params or d.query_params or d.header_params or d.cookie_params for d in dependants)
    if route.body_field is not None or has_parameters:
        statuses.append(422)
    statuses.append(503)
    return statuses


def _add_derived(responses: dict[int | str, dict[str, Any]], statuses: Iterable[int]) -> None:
    for status in statuses:
        derived = problem_doc(status)
        declared = responses.pop(status, None) or responses.pop(str(status), None)
        if declared is not None:
            # The route said what the status means for it; the derived meaning still holds too.
            own = declared.get("description")
            if own and own != derived["description"]:
                derived["description"] = f"{own}; or: {derived['description'][0].lower()}{derived['description'][1:]}"
            derived = {**declared, **derived}
        responses[status] = derived
    ordered = sorted(responses.items(), key=lambda item: str(item[0]))
    responses.clear()
    responses.update(ordered)


def document_problems(app: FastAPI, *, skip: Iterable[BaseRoute] = ()) -> None:
    """Publish the derived problem responses of the app's routes (except ``skip``) and the ``Problem`` schema.

    Applied when the document is first generated, to the routes as served then: FastAPI builds an
    included router's routes lazily, so a route added after the app factory ran is covered too.
    """
    skipped = list(skip)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for route in service_routes(app, skip=skipped):
                # A declared 422 also keeps FastAPI from documenting its own application/json one.
                _add_derived(route.responses, derived_statuses(route))
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            # Nested models' schemas sit under $defs: hoisted, or their $refs would dangle.
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
