"""Domain errors and their one mapping to RFC 9457 problem+json responses.

Use cases raise the domain errors below; nothing else in a service builds an error response.
Validation errors are reduced to location, message and type: pydantic's ``ctx`` may hold the
raised exception object, which is not JSON (serialising it naively turns a 422 into a 500).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# RFC 9457's own members: an extension may not reuse them.
STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})


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


def is_data_error(exc: DBAPIError) -> bool:
    """SQLSTATE class 22 ("data exception"); asyncpg's errors arrive as a plain DBAPIError carrying it."""
    return isinstance(exc, DataError) or str(getattr(exc.orig, "sqlstate", "") or "").startswith("22")


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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(status=exc.status, title=exc.title, detail=exc.detail, slug=exc.slug,
                                instance=request.url.path, headers=headers, extensions=exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(status=422, title="Invalid request", slug="validation",
                                detail="The request does not match the schema.", instance=request.url.path,
                                extensions={"errors": _safe_validation_errors(exc)})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(status=exc.status_code, title=str(exc.detail), detail=None,
                                slug=f"http-{exc.status_code}", instance=request.url.path,
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if is_data_error(exc):
            # The database refused a value the schema let through (too long, out of range, a NUL
            # character): the input is at fault, and nothing was stored.
            log.info("database refused a value", extra={"path": request.url.path, "error": str(exc.orig)[:300]})
            return problem_response(status=422, title="Invalid request", slug="unstorable-value",
                                    detail="A value in the request cannot be stored (too long, out of range, "
                                           "or holding a NUL character).", instance=request.url.path)
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(status=500, title="Internal error", slug="internal",
                                detail="The error was logged with this request's correlation id.",
                                instance=request.url.path)
