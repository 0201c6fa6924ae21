"""Outbox and inbox tables, present in every service's database (see ``shared.db.base``).

Their schema is created by ``shared.db.common_migrations`` from each service's first migration.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from shared.db.base import SharedTable
from shared.db.types import UTCDateTime, utcnow


class OutboxMessage(SharedTable, table=True):
    __tablename__ = "outbox"
    # AUTOINCREMENT on SQLite: without it a deleted row's id is reused, breaking id order.
    __table_args__ = (
        sa.Index(
            "ix_outbox_pending",
            "id",
            sqlite_where=sa.text("published_at IS NULL"),
            postgresql_where=sa.text("published_at IS NULL"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    event_id: str = Field(sa_column=sa.Column(sa.String(36), nullable=False, unique=True))
    event_type: str = Field(sa_column=sa.Column(sa.String(120), nullable=False))
    topic: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    key: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    envelope: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime, nullable=False, default=utcnow)
    )
    published_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, nullable=True))
    attempts: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0"))
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))


class InboxMessage(SharedTable, table=True):
    """One row per event a consumer group has applied; the primary key is the dedupe."""

    __tablename__ = "inbox"

    consumer: str = Field(sa_column=sa.Column(sa.String(120), primary_key=True))
    event_id: str = Field(sa_column=sa.Column(sa.String(36), primary_key=True))
    event_type: str = Field(sa_column=sa.Column(sa.String(120), nullable=False))
    handled_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime, nullable=False, default=utcnow)
    )
