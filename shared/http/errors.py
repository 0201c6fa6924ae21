"""Domain errors and their one mapping to RFC 9457 problem+json responses.

Use cases raise the domain errors below; nothing else in a service builds an error response.
Validation errors are reduced to location, message and type: pydantic's ``ctx`` may hold the
raised exception object, which is not JSON (serialising it naively turns a 422 into a 500).

Any other exception ends in :class:`UnhandledErrors`, which answers it itself: a value the
database refused is a 422, a database outage a 503 with ``Retry-After``, anything else a 500;
each is logged once, as one JSON line with the correlation id. Starlette's own last-resort
handler (a handler for ``Exception``) re-raises after answering, so uvicorn logs a second,
plain-text traceback without the correlation id; nothing reaches it here.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db.outages import is_database_outage
from shared.http.inputs import MAX_JSON_DEPTH
from shared.observability.context import mark_request_logged

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# RFC 9457's own members: an extension may not reuse them.
STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})
# How long a client should wait before retrying a request that met an outage.
RETRY_AFTER_SECONDS = 2


class DomainError(Exception):
    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        if clash := STANDARD_MEMBERS & extensions.keys():
            raise ValueError(f"problem extensions may not be named {sorted(clash)}")
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(DomainError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, slug = 409, "Conflict", "conflict"


class Gone(DomainError):
    status, title, slug = 410, "Gone", "gone"


class Unprocessable(DomainError):
    status, title, slug = 422, "Unprocessable request", "unprocessable"


class Unauthorized(DomainError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(DomainError):
    status, title, slug = 403, "Forbidden", "forbidden"


class PayloadTooLarge(DomainError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class DependencyUnavailable(DomainError):
    status, title, slug = 503, "A service this request depends on is unavailable", "dependency-unavailable"


def is_data_error(exc: BaseException) -> bool:
    """SQLSTATE class 22 ("data exception"); asyncpg's errors arrive as a plain DBAPIError carrying it."""
    return isinstance(exc, DBAPIError) and (
        isinstance(exc, DataError) or str(getattr(exc.orig, "sqlstate", "") or "").startswith("22"))


def problem_response(*, status: int, title: str, detail: str | None, slug: str, instance: str | None = None,
                     headers: dict[str, str] | None = None, extensions: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    for key, value in (extensions or {}).items():
        body.setdefault(key, value)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _safe_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", "")),
         "type": str(error.get("type", ""))}
        for error in exc.errors()
    ]


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, or ``exc`` itself."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def unhandled_error_response(exc: Exception, *, method: str, path: str) -> JSONResponse:
    """The answer to an exception no handler took, logged once (this line is the request's log line)."""
    mark_request_logged()
    leaves = _leaves(exc)
    if all(is_data_error(leaf) for leaf in leaves):
        # The database refused a value the schema let through (too long, out of range, a NUL
        # character): the input is at fault, and nothing was stored.
        log.info("database refused a value", extra={"path": path, "method": method,
                                                    "error": str(getattr(leaves[0], "orig", leaves[0]))[:300]})
        return problem_response(status=422, title="Invalid request", slug="unstorable-value",
                                detail="A value in the request cannot be stored (too long, out of range, "
                                       "or holding a NUL character).", instance=path)
    if all(is_database_outage(leaf) for leaf in leaves):
        # Not the request's fault and not a bug: no traceback (an outage would flood the log).
        log.warning("database unavailable", extra={"path": path, "method": method, "error": repr(exc)[:300]})
        return problem_response(status=503, title="Service unavailable", slug="database-unavailable",
                                detail="The database is unavailable; retry later.", instance=path,
                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    log.error("unhandled error", exc_info=exc, extra={"path": path, "method": method})
    return problem_response(status=500, title="Internal error", slug="internal",
                            detail="The error was logged with this request's correlation id.", instance=path)


class UnhandledErrors:
    """Answers every exception that escaped the handlers, so none reaches Starlette's ServerErrorMiddleware.

    The response is complete and the connection stays open for the next request. An exception
    after the response started cannot be answered any more: it is logged, and the server closes
    the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # the last resort: every failure becomes one answer and one log line
            response = unhandled_error_response(exc, method=scope.get("method", ""), path=scope.get("path", ""))
            if not started:
                await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        headers = ({"WWW-Authenticate": "Bearer"} if exc.status == 401
                   else {"Retry-After": str(RETRY_AFTER_SECONDS)} if exc.status == 503 else None)
        return problem_response(status=exc.status, title=exc.title, detail=exc.detail, slug=exc.slug,
                                instance=request.url.path, headers=headers, extensions=exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(status=422, title="Invalid request", slug="validation",
                                detail="The request does not match the schema.", instance=request.url.path,
                                extensions={"errors": _safe_validation_errors(exc)})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI could not parse the body (it raises 400 from the parser's error): JSON that
            # is not UTF-8, or nested so deep that the parser gave up. Invalid input, as a bad
            # JSON document is.
            deep = isinstance(exc.__cause__, RecursionError)
            return problem_response(status=422, title="Invalid request", slug="validation",
                                    detail=f"the JSON nests deeper than {MAX_JSON_DEPTH} levels" if deep
                                    else "The body cannot be read as JSON.", instance=request.url.path)
        return problem_response(status=exc.status_code, title=str(exc.detail), detail=None,
                                slug=f"http-{exc.status_code}", instance=request.url.path,
                                headers=getattr(exc, "headers", None))

    app.add_middleware(UnhandledErrors)
