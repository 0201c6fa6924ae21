"""Bearer tokens: HS256 for local use, RS256 through a JWKS endpoint, roles, fail-fast settings."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from shared.config import LOCAL_JWT_SECRET, ServiceSettings
from shared.http.auth import Authenticator, Principal, issue_token
from shared.http.errors import Unauthorized


def settings(**overrides: object) -> ServiceSettings:
    return ServiceSettings(**overrides)  # type: ignore[arg-type]


async def test_a_local_token_authenticates_with_its_roles() -> None:
    token = issue_token(secret=LOCAL_JWT_SECRET, subject="emp-1", roles=["manager"])
    principal = await Authenticator(settings()).authenticate(token)
    assert principal == Principal(subject="emp-1", roles=frozenset({"manager"}))


@pytest.mark.parametrize("make", [
    lambda: issue_token(secret="another-secret-" * 4, subject="x", roles=["admin"]),
    lambda: issue_token(secret=LOCAL_JWT_SECRET, subject="x", roles=["admin"], ttl=timedelta(seconds=-5)),
    lambda: jwt.encode({"roles": ["admin"], "exp": datetime.now(UTC) + timedelta(hours=1)}, LOCAL_JWT_SECRET),
    lambda: jwt.encode({"sub": "x", "roles": "admin", "exp": datetime.now(UTC) + timedelta(hours=1)},
                       LOCAL_JWT_SECRET),
    lambda: jwt.encode({"sub": "x" * 500, "roles": [], "exp": datetime.now(UTC) + timedelta(hours=1)},
                       LOCAL_JWT_SECRET),
    lambda: jwt.encode({"sub": "x", "roles": ["admin"], "exp": datetime.now(UTC) + timedelta(hours=1)},
                       LOCAL_JWT_SECRET, algorithm="HS512"),
    lambda: "not.a.token",
], ids=["wrong-secret", "expired", "no-subject", "roles-not-a-list", "subject-too-long", "other-algorithm",
        "garbage"])
async def test_bad_tokens_are_unauthorized(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Unauthorized):
        await Authenticator(settings()).authenticate(make())


def test_admin_may_do_anything_and_others_only_their_roles() -> None:
    assert Principal("a", frozenset({"admin"})).has_any(frozenset({"manager"}))
    assert Principal("s", frozenset({"support"})).has_any(frozenset({"manager", "support"}))
    assert not Principal("n", frozenset({"analyst"})).has_any(frozenset({"manager"}))


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    """An identity provider's JWKS endpoint on loopback, serving one RSA public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", key
    finally:
        server.shutdown()


async def test_rs256_tokens_are_checked_against_the_jwks(jwks_server: tuple[str, rsa.RSAPrivateKey]) -> None:
    url, key = jwks_server
    authenticator = Authenticator(settings(jwt_jwks_url=url, jwt_algorithms=["RS256"], jwt_audience="pelanggan",
                                           jwt_issuer="https://idp.example"))
    claims = {"sub": "emp-9", "roles": ["analyst"], "aud": "pelanggan", "iss": "https://idp.example",
              "exp": datetime.now(UTC) + timedelta(minutes=5)}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert (await authenticator.authenticate(token)).roles == frozenset({"analyst"})

    with pytest.raises(Unauthorized):  # wrong audience
        await authenticator.authenticate(jwt.encode({**claims, "aud": "other"}, key, algorithm="RS256",
                                                    headers={"kid": "k1"}))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthorized):  # signed by someone else
        await authenticator.authenticate(jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "k1"}))
    with pytest.raises(Unauthorized):  # an HS256 token signed with the public key must not pass
        await authenticator.authenticate(issue_token(secret=LOCAL_JWT_SECRET, subject="x", roles=["admin"]))


def test_production_mode_refuses_to_start_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PELANGGAN_JWT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="JWT secret"):
        settings(mode="production", database_url="postgresql+asyncpg://x/y")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        settings(mode="production", jwt_secret="s3cret", database_url="postgresql+asyncpg://x/y")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        settings(mode="production", jwt_secret=LOCAL_JWT_SECRET, database_url="postgresql+asyncpg://x/y")
    strong = "a" * 16 + "b" * 16
    with pytest.raises(ValidationError, match="database URL"):
        settings(mode="production", jwt_secret=strong)
    assert settings(mode="production", jwt_secret=strong, database_url="postgresql+asyncpg://x/y").jwt_secret


def test_system_wide_settings_fall_back_to_the_pelanggan_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.customers.config import CustomersSettings

    monkeypatch.setenv("PELANGGAN_JWT_SECRET", "shared-secret")
    monkeypatch.setenv("PELANGGAN_KAFKA_BOOTSTRAP", "broker:9092")
    monkeypatch.setenv("CUSTOMERS_KAFKA_BOOTSTRAP", "own-broker:9092")
    monkeypatch.setenv("PELANGGAN_DATABASE_URL", "postgresql+asyncpg://must-not/leak")
    customers = CustomersSettings()
    assert customers.jwt_secret == "shared-secret"
    assert customers.kafka_bootstrap == "own-broker:9092"  # the service's own prefix wins
    assert customers.database_url is None  # a database is never shared between services


async def test_a_verified_token_is_kept_until_it_expires_and_no_longer(monkeypatch: pytest.MonkeyPatch) -> None:
    authenticator = Authenticator(settings())
    token = issue_token(secret=LOCAL_JWT_SECRET, subject="emp-1", roles=["analyst"], ttl=timedelta(seconds=1))
    verified = []
    real_verify = authenticator._verify

    async def counting_verify(raw: str):  # type: ignore[no-untyped-def]
        verified.append(raw)
        return await real_verify(raw)

    monkeypatch.setattr(authenticator, "_verify", counting_verify)
    first = await authenticator.authenticate(token)
    assert await authenticator.authenticate(token) == first == Principal("emp-1", frozenset({"analyst"}))
    assert len(verified) == 1  # the second request did not verify again
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    await asyncio.sleep(max(0.0, exp - time.time()) + 0.05)  # the token has expired (for PyJWT too)
    with pytest.raises(Unauthorized, match="expired"):
        await authenticator.authenticate(token)
    assert len(verified) == 2


async def test_a_kept_token_is_verified_again_after_the_cache_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.http import auth

    authenticator = Authenticator(settings())
    token = issue_token(secret=LOCAL_JWT_SECRET, subject="emp-1", roles=["analyst"])  # valid for hours
    await authenticator.authenticate(token)
    later = auth.time.time() + auth.VERIFIED_TOKEN_TTL_S + 1
    monkeypatch.setattr(auth.time, "time", lambda: later)
    monkeypatch.setattr(authenticator.settings, "jwt_secret", "rotated-secret-" * 4)  # the key changed meanwhile
    with pytest.raises(Unauthorized):
        await authenticator.authenticate(token)


async def test_a_bad_token_is_never_kept_and_the_cache_is_bounded() -> None:
    from shared.http import auth

    authenticator = Authenticator(settings())
    bad = issue_token(secret="another-secret-" * 4, subject="x", roles=["admin"])
    for _ in range(2):
        with pytest.raises(Unauthorized):
            await authenticator.authenticate(bad)
    assert bad not in authenticator._verified
    for n in range(auth.VERIFIED_TOKEN_CACHE_SIZE + 5):
        await authenticator.authenticate(issue_token(secret=LOCAL_JWT_SECRET, subject=f"s{n}", roles=[]))
    assert len(authenticator._verified) == auth.VERIFIED_TOKEN_CACHE_SIZE
