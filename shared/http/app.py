"""The FastAPI app every service is built from: middleware, errors, auth, health, metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db.engine import Database
from shared.http.auth import Authenticator
from shared.http.errors import install_error_handlers, problem_response
from shared.http.openapi import document_problems
from shared.observability.context import correlation_id_var, request_log_var
from shared.observability.logging import configure_logging
from shared.observability.metrics import HTTP_LATENCY
from shared.runtime import ServiceRuntime

access_log = logging.getLogger("pelanggan.access")
# Probes poll these every few seconds: logging each would bury the requests that matter.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
UNAUTHENTICATED_PATHS = ("/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")


class RequestContextMiddleware:
    """Correlation id, request-size limit and latency metrics, as plain ASGI (no per-request task)."""

    def __init__(self, app: ASGIApp, *, service: str, max_body_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        scope = _behind_gateway(scope, headers.get(b"x-forwarded-prefix"))
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:200] or str(uuid.uuid4())
        token = correlation_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}

        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"").lower():
            # PostgreSQL text cannot hold U+0000: such an id or filter is invalid input, not a query.
            response = problem_response(status=422, title="Invalid request", slug="validation",
                                        detail="the path or query contains a NUL character (U+0000)",
                                        headers={"X-Request-ID": request_id})
            await response(scope, receive, send)
            correlation_id_var.reset(token)
            return

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(request_id)(scope, receive, send)
            correlation_id_var.reset(token)
            return

        request_log = {"logged": False}
        log_token = request_log_var.set(request_log)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # An HTTPException passes through FastAPI's body parsing to the problem handler;
                    # any other exception raised here would become a 400 "error parsing the body".
                    raise StarletteHTTPException(413, detail=f"Payload too large: at most {self.max_body_bytes} bytes")
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            HTTP_LATENCY.labels(self.service, scope.get("method", ""), path, str(status_holder["status"])).observe(
                elapsed)
            if path not in _QUIET_ROUTES and not request_log["logged"]:
                # The access log, as JSON with the correlation id (uvicorn's own is off).
                access_log.info("request", extra={"method": scope.get("method", ""), "route": path,
                                                  "status": status_holder["status"],
                                                  "ms": round(elapsed * 1000, 1)})
            request_log_var.reset(log_token)
            correlation_id_var.reset(token)


    def _too_large(self, request_id: str) -> Response:
        return problem_response(status=413, title="Payload too large", slug="payload-too-large",
                                detail=f"the body may be at most {self.max_body_bytes} bytes",
                                headers={"X-Request-ID": request_id})


# A prefix the gateway strips (/customers, /orders, ...): one lower-case path segment, nothing a client
# could use to point the docs elsewhere.
_GATEWAY_PREFIX = re.compile(rb"/[a-z][a-z0-9-]{0,30}")


def _behind_gateway(scope: Scope, prefix: bytes | None) -> Scope:
    """Under the gateway, the service's URLs start with the prefix it stripped (``X-Forwarded-Prefix``).

    ASGI wants ``path`` to include ``root_path``, so both are set: routing strips the prefix again,
    and the docs, the OpenAPI ``servers`` and any URL the app builds carry it.
    """
    if not prefix or not _GATEWAY_PREFIX.fullmatch(prefix):
        return scope
    root = prefix.decode()
    raw_path = scope.get("raw_path")
    return {**scope, "root_path": root, "path": root + scope["path"],
            **({"raw_path": prefix + raw_path} if raw_path is not None else {})}


# Async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, which for a
# one-attribute lookup costs far more than the lookup (7 % of CPU in the performance profile).
async def get_runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


async def get_db(request: Request) -> Database:
    return request.app.state.runtime.db


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
DbDep = Annotated[Database, Depends(get_db)]


def _health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: can this instance serve its API (database reachable, migrations "
                                   "applied); broker, outbox and consumers are reported, as degraded, not as unready",
                responses={503: {"description": "Not ready: the checks say which part is failing",
                                 "content": {"application/json": {}}}})
    async def readyz(runtime: RuntimeDep) -> JSONResponse:
        ready, body = await runtime.readiness()
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_service_app(*, runtime: ServiceRuntime, title: str, description: str,
                       routers: Sequence[APIRouter], version: str = "1.0.0", **fastapi_kwargs: Any) -> FastAPI:
    settings = runtime.settings
    configure_logging(settings.service_name, settings.log_level)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    # No trailing-slash redirects: Starlette builds their Location from the Host header, so
    # "/customers/" with "Host: evil.example" would send the client to evil.example.
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan,
                  redirect_slashes=False, **fastapi_kwargs)
    app.state.runtime = runtime
    app.state.authenticator = Authenticator(settings)
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                           allow_methods=["*"], allow_headers=["*"], expose_headers=["X-Request-ID"])
    app.add_middleware(RequestContextMiddleware, service=settings.service_name,
                       max_body_bytes=settings.max_body_bytes)
    health = _health_router()
    app.include_router(health)
    for router in routers:
        app.include_router(router)
    document_problems(app, skip=health.routes)
    return app
