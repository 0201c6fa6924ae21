"""Bearer JWT authentication and role checks.

HS256 with a shared secret for local use; RS256 (or any asymmetric algorithm) against a JWKS
URL for a real identity provider. Roles come from the ``roles`` claim. ``admin`` may do anything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.config import ServiceSettings
from shared.http.errors import Forbidden, Unauthorized

Role = Literal["admin", "manager", "support", "analyst", "service"]
ROLES: tuple[str, ...] = ("admin", "manager", "support", "analyst", "service")
# Subjects are recorded as "who did it" on many rows; an unbounded one is not an identity.
MAX_SUBJECT_LENGTH = 200
# Tokens that verified, kept for a short while: a client sends the same token with every request,
# and checking its signature and claims each time was about 4 % of the CPU of a small read. An
# entry serves only until the token's own expiry and at most VERIFIED_TOKEN_TTL_S after it was
# verified, so a key withdrawn from the JWKS stops being honoured as soon as that; a token that
# failed is never kept.
VERIFIED_TOKEN_TTL_S = 60.0
VERIFIED_TOKEN_CACHE_SIZE = 1024


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]

    def has_any(self, roles: frozenset[str]) -> bool:
        return "admin" in self.roles or bool(self.roles & roles)


class Authenticator:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True) if settings.jwt_jwks_url else None
        self._verified: dict[str, tuple[float, Principal]] = {}  # token -> (valid until, principal)

    async def authenticate(self, token: str) -> Principal:
        now = time.time()
        known = self._verified.get(token)
        if known is not None:
            if now < known[0]:
                return known[1]
            del self._verified[token]
        principal, expires_at = await self._verify(token)
        if len(self._verified) >= VERIFIED_TOKEN_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[token] = (min(expires_at, now + VERIFIED_TOKEN_TTL_S), principal)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        """The token's principal and expiry (a Unix time), or Unauthorized."""
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking HTTP: keep it off the event loop.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key: Any = signing_key.key
            else:
                key = self.settings.jwt_secret
            claims = jwt.decode(
                token, key, algorithms=self.settings.jwt_algorithms, audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer, options={"require": ["sub", "exp"],
                                                          "verify_aud": self.settings.jwt_audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid bearer token: {exc}") from exc
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            # The subject is recorded as "who did it": an empty one would record nobody.
            raise Unauthorized("the token's subject is empty")
        if len(subject) > MAX_SUBJECT_LENGTH:
            raise Unauthorized(f"the token's subject is longer than {MAX_SUBJECT_LENGTH} characters")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthorized("the token's roles claim must be a list of strings")
        # Expired once now >= exp, as PyJWT decides (no leeway is configured).
        return Principal(subject=subject, roles=frozenset(roles)), float(claims["exp"])


def issue_token(*, secret: str, subject: str, roles: list[str], ttl: timedelta = timedelta(hours=12),
                audience: str | None = None, issuer: str | None = None) -> str:
    """A signed HS256 token for local use and tests (`pelanggan token`)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": subject, "roles": roles, "iat": now, "exp": now + ttl}
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")


_bearer = HTTPBearer(auto_error=False, description="JWT with a `roles` claim")


async def current_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials.strip():
        raise Unauthorized("a bearer token is required")
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.authenticate(credentials.credentials.strip())
    request.state.principal = principal
    return principal


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that authenticates and admits only ``roles`` (and admin)."""
    allowed = frozenset(roles)

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if not principal.has_any(allowed):
            raise Forbidden(f"this action needs one of the roles: {', '.join(sorted(allowed | {'admin'}))}")
        return principal

    dependency.required_roles = allowed  # type: ignore[attr-defined]  # read by the OpenAPI derivation (403)
    return dependency
