"""Metadata conventions, and the tables every service database has (outbox, inbox, idempotency).

Each service declares its own tables on its own base (``service_base()``), so services sharing a
process (tests, ``pelanggan run``) never see each other's tables. The common tables sit in
``shared_metadata`` because every service has an identical copy.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

shared_metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SharedTable(SQLModel, registry=registry(metadata=shared_metadata)):
    pass


def service_base(name: str) -> type[SQLModel]:
    """A declarative base with a metadata of its own, for one service's tables."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION, info={"service": name})
    return type(f"{name.title()}Table", (SQLModel,), {}, registry=registry(metadata=metadata))
