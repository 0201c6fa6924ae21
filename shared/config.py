"""The settings base every service extends with its own env prefix (CUSTOMERS_, ORDERS_, ...).

Local mode (the default) runs with no configuration at all: SQLite file, local broker, a
development JWT secret. Production mode refuses to start without the secrets it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_JWT_SECRET = "pelanggan-local-development-secret-do-not-use-in-production-0000000"

# Settings every service must agree on may be given once as PELANGGAN_<NAME>; a service's own
# prefix (CUSTOMERS_<NAME>) still wins. Per-service settings (database, port) are never shared.
SYSTEM_WIDE = frozenset({"mode", "kafka_bootstrap", "bus_enabled", "jwt_secret", "jwt_algorithms", "jwt_jwks_url",
                         "jwt_audience", "jwt_issuer", "cors_origins", "log_level"})


class _SystemWideEnv(EnvSettingsSource):
    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in super().__call__().items() if k in SYSTEM_WIDE}


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PELANGGAN_", extra="ignore")

    service_name: str = Field(default="service", description="the service's name (topics, consumer group, files)")
    mode: Literal["local", "production"] = Field(
        default="local", description="`production` refuses to start without a database URL and a JWT secret or "
                                     "JWKS URL")
    host: str = Field(default="127.0.0.1", description="interface the HTTP server binds to")
    port: int = Field(default=8000, description="HTTP port")
    log_level: str = Field(default="INFO", description="log level of the JSON logs")

    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL, e.g. `postgresql+asyncpg://user:pw@host/<svc>`; "
                                  "default: the SQLite file `<data_dir>/<svc>.db`"
    )
    data_dir: Path = Field(default=REPO_ROOT / "data", description="where the embedded SQLite files live")
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="the Kafka broker(s)")
    bus_enabled: bool = Field(default=True, description="`false` runs a service without relay and consumers "
                                                        "(events stay in its outbox)")

    jwt_secret: str | None = Field(default=None, description="HS256 secret (a development secret in local mode)")
    jwt_algorithms: list[str] = Field(default=["HS256"], description="accepted token algorithms (JSON list)")
    jwt_jwks_url: str | None = Field(default=None, description="JWKS URL of an identity provider (RS256 tokens)")
    jwt_audience: str | None = Field(default=None, description="required `aud` claim, when set")
    jwt_issuer: str | None = Field(default=None, description="required `iss` claim, when set")

    cors_origins: list[str] = Field(default=[], description="origins allowed for front-end teams (JSON list)")
    max_body_bytes: int = Field(default=1_000_000, description="larger request bodies are refused with 413")
    page_size_default: int = Field(default=50, description="page size of lists when `limit` is not given")
    page_size_max: int = Field(default=200, description="the largest `limit` a list accepts")

    relay_batch_size: int = Field(default=200, description="outbox rows the relay reads per tick")
    relay_idle_seconds: float = Field(default=0.5, description="relay's first poll interval when idle, doubling up "
                                                               "to `relay_max_idle_seconds` (commits wake it)")
    relay_send_timeout_seconds: float = Field(default=10.0, description="bound on one publish to the broker")
    consumer_max_attempts: int = Field(default=5, description="handler attempts before an event is dead-lettered")
    consumer_backoff_seconds: float = Field(default=0.5, description="first retry delay of a failed event "
                                                                     "(doubles per attempt)")
    consumer_max_records: int = Field(default=100, description="records a consumer fetches per poll")
    relay_max_idle_seconds: float = Field(default=10.0, description="longest relay poll interval when idle (the "
                                                                    "safety net for rows committed elsewhere)")
    consumer_stall_seconds: float = Field(default=120.0, description="lag with no progress for this long: the "
                                                                     "consumer is reported stalled and rebuilt")
    outbox_retention_hours: float | None = Field(default=168.0, description="published outbox rows older than this "
                                                                            "are deleted; unset keeps them")
    inbox_retention_days: float | None = Field(
        default=None, description="inbox rows older than this are deleted; unset keeps them. Must exceed the "
                                  "retention of every topic the service consumes, or a replay re-applies old events")
    retention_interval_seconds: float = Field(default=3600.0, description="how often the outbox and inbox are pruned")
    retention_batch_size: int = Field(default=5000, description="rows deleted per pruning transaction")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        system_wide = _SystemWideEnv(settings_cls, env_prefix="PELANGGAN_")
        return init_settings, env_settings, system_wide, dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _fail_fast_outside_local_mode(self) -> ServiceSettings:
        if self.mode == "production":
            if not self.jwt_secret and not self.jwt_jwks_url:
                raise ValueError("production mode needs a JWT secret or a JWKS URL")
            if self.jwt_secret and (len(self.jwt_secret) < 32 or self.jwt_secret == LOCAL_JWT_SECRET):
                raise ValueError("production mode needs a JWT secret of at least 32 characters of its own")
            if not self.database_url:
                raise ValueError("production mode needs a database URL")
        elif not self.jwt_secret and not self.jwt_jwks_url:
            self.jwt_secret = LOCAL_JWT_SECRET
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / (self.service_name + '.db')}"
