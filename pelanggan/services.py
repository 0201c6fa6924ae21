"""The services `pelanggan run` knows how to start: app factory and port, in start order."""

from __future__ import annotations

from dataclasses import dataclass

from shared.infra import REPO_ROOT


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int

    @property
    def app_factory(self) -> str:
        return f"services.{self.name}.app:create_app"

    @property
    def env_prefix(self) -> str:
        return f"{self.name.upper()}_"

    @property
    def built(self) -> bool:
        return (REPO_ROOT / "services" / self.name / "app.py").is_file()


ALL_SERVICES = (
    ServiceSpec("customers", 8001),
    ServiceSpec("orders", 8002),
    ServiceSpec("feedback", 8003),
    ServiceSpec("incentives", 8004),
    ServiceSpec("analytics", 8005),
)


def built_services() -> list[ServiceSpec]:
    return [spec for spec in ALL_SERVICES if spec.built]
