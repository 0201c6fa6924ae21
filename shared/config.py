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

    service_name: str = "service"
    mode: Literal["local", "production"] = "local"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default is a SQLite file under data/"
    )
    data_dir: Path = REPO_ROOT / "data"
    kafka_bootstrap: str = "127.0.0.1:9092"
    bus_enabled: bool = True

    jwt_secret: str | None = None
    jwt_algorithms: list[str] = ["HS256"]
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None

    cors_origins: list[str] = []
    max_body_bytes: int = 1_000_000
    page_size_default: int = 50
    page_size_max: int = 200

    relay_batch_size: int = 200
    relay_idle_seconds: float = 0.5
    relay_send_timeout_seconds: float = 10.0
    consumer_max_attempts: int = 5
    consumer_backoff_seconds: float = 0.5
    consumer_max_records: int = 100
    relay_max_idle_seconds: float = 10.0  # the idle poll grows to this; a commit in this process wakes the relay
    consumer_stall_seconds: float = 120.0  # lag and no progress for this long: the consumer is rebuilt
    outbox_retention_hours: float | None = 168.0  # published rows kept 7 days; None keeps them
    # None keeps inbox rows: one must outlive its topic's retention (topics are kept for rebuilds).
    inbox_retention_days: float | None = None
    retention_interval_seconds: float = 3600.0
    retention_batch_size: int = 5000

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
