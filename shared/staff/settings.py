"""Where a service asks incentives about employees its replica has not heard of yet."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, field_validator

from shared.clients.owner_lookup import OwnerClient
from shared.staff.directory import IncentivesLookup, StaffDirectory


class StaffDirectorySettings(BaseModel):
    """Mixed into the settings of every service that is given employee ids."""

    incentives_url: str = Field(default="http://127.0.0.1:8004",
                                description="asked about employees the local replica has not heard of yet")
    incentives_token: str | None = Field(
        default=None, description="bearer token for the incentives service; by default one is minted with this "
                                  "service's JWT secret and the role 'service'")
    incentives_timeout_seconds: float = Field(default=2.0, gt=0, le=30,
                                              description="bound on one question to the incentives service")

    @field_validator("incentives_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


def staff_directory(settings: Any, table: sa.Table) -> StaffDirectory:
    """The production directory of a service: its replica, and incentives over HTTP."""
    client = OwnerClient(owner="incentives", base_url=settings.incentives_url, token=settings.incentives_token,
                         timeout_seconds=settings.incentives_timeout_seconds, jwt_secret=settings.jwt_secret,
                         subject=settings.service_name)
    return StaffDirectory(table, IncentivesLookup(client))
