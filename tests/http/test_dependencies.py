"""The shared FastAPI dependencies are async: a plain ``def`` dependency runs in a worker thread per request."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from shared.http.app import get_db, get_runtime
from shared.http.auth import current_principal, require_roles
from shared.http.pagination import page_params
from tests.http.test_strict_inputs import service_routers


def is_async(call: Callable[..., Any]) -> bool:
    # A function, or an instance whose __call__ is a coroutine function (HTTPBearer).
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)


def route_dependencies() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name, router in service_routers():
        app = FastAPI()
        app.include_router(router)
        for route in iter_route_contexts(app.routes):
            pending = list(route.dependant.dependencies) if getattr(route, "dependant", None) else []
            while pending:
                dependant = pending.pop()
                pending += dependant.dependencies
                if dependant.call is not None:
                    yield f"{name} {route.path}", dependant.call


def test_the_shared_dependencies_are_async() -> None:
    for call in (get_db, get_runtime, page_params, current_principal, require_roles("manager")):
        assert is_async(call), call


def test_every_shared_dependency_the_services_use_is_async() -> None:
    shared = {(where, call) for where, call in route_dependencies()
              if call.__module__.startswith(("shared.", "fastapi."))}
    assert shared
    assert not [f"{where}: {call.__module__}.{call.__qualname__}" for where, call in shared if not is_async(call)]
