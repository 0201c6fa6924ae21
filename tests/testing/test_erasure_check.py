"""The erasure check of the test toolkit finds personal data wherever it is, and says where.

A database of made-up tables on SQLite (the check discovers tables by reflection, so any schema
will do), and one run on PostgreSQL, whose reflected types differ.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from shared.bus.tables import OutboxMessage
from shared.testing.erasure import PersonalData, assert_erased, find_personal_data
from shared.testing.infra import PostgresServer

ERASED_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PERSON = PersonalData(name="Budi Hartono", emails=("budi.h@example.org",), phones=("+6281234567890",),
                      tax_id="01.234.567.8-901.234", address=("Jl. Dago 10",))


def schema() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table("note", metadata, sa.Column("id", sa.String(36), primary_key=True), sa.Column("body", sa.Text),
             sa.Column("amount", sa.Numeric(20, 2)))
    sa.Table("profile", metadata, sa.Column("tenant", sa.String(8), primary_key=True),
             sa.Column("number", sa.Integer, primary_key=True), sa.Column("data", sa.JSON))
    sa.Table("loose", metadata, sa.Column("line", sa.String(200)))  # no primary key
    OutboxMessage.__table__.to_metadata(metadata)
    return metadata


async def database(url: str, rows: dict[str, list[dict[str, object]]]) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            metadata = schema()
            await conn.run_sync(metadata.create_all)
            for table, values in rows.items():
                await conn.execute(metadata.tables[table].insert(), values)
    finally:
        await engine.dispose()
    return url


def outbox_row(n: int, at: datetime, payload: dict[str, object]) -> dict[str, object]:
    return {"id": n, "event_id": f"ev-{n}", "event_type": "x.thing.happened", "topic": "x.events", "key": "k",
            "envelope": json.dumps({"payload": payload}), "created_at": at, "attempts": 0}


LEAKY = {
    "note": [{"id": "n1", "body": "call Budi back on 0812-3456-7890", "amount": 12},
             {"id": "n2", "body": "nothing to see", "amount": 6281234567890}],
    "profile": [{"tenant": "t", "number": 7, "data": {"mail": "BUDI.H@example.org", "npwp": "012345678901234"}}],
    "loose": [{"line": "lives at jl. dago 10, Bandung"}],
    "outbox": [outbox_row(1, ERASED_AT - timedelta(days=1), {"name": "Budi Hartono"}),
               outbox_row(2, ERASED_AT + timedelta(seconds=1), {"note": "Budi Hartono paid"})],
}


async def test_every_hit_is_named_by_table_column_and_row_key(tmp_path: Path) -> None:
    url = await database(f"sqlite+aiosqlite:///{tmp_path / 'leaky.db'}", LEAKY)
    found = {str(f) for f in await find_personal_data(url, PERSON, since=ERASED_AT)}
    assert found == {
        "table note, row id='n1', column body: phone '+6281234567890' as digits 81234567890",
        "table profile, row tenant='t', number=7, column data: e-mail 'budi.h@example.org'",
        "table profile, row tenant='t', number=7, column data: tax id '01.234.567.8-901.234' as digits "
        "012345678901234",
        "table loose, row #0, column line: address 'Jl. Dago 10'",
        "event ev-2 (x.thing.happened) in table outbox, row id=2, column envelope: name 'Budi Hartono'",
    }  # the number 6281234567890 is money, not a phone written out; outbox row 1 predates the erasure
    with pytest.raises(AssertionError, match=r"still readable after the erasure \(5 places\)"):
        await assert_erased(url, PERSON, since=ERASED_AT)


async def test_published_events_after_the_erasure_are_searched(tmp_path: Path) -> None:
    url = await database(f"sqlite+aiosqlite:///{tmp_path / 'clean.db'}", {"note": [{"id": "n1", "body": "ok"}]})
    before = {"event_id": "e-1", "type": "c.customer.registered", "occurred_at": "2026-11-29T00:00:00+00:00",
              "payload": {"name": "Budi Hartono"}}
    after = {"event_id": "e-2", "type": "c.customer.updated", "occurred_at": "2026-11-30T12:00:00+00:00",
             "payload": {"tags": ["Budi Hartono café"]}}
    await assert_erased(url, PERSON, since=ERASED_AT, events=[before])
    found = await find_personal_data(url, PERSON, since=ERASED_AT.isoformat(), events=[before, after])
    assert [str(f) for f in found] == ["event e-2 (c.customer.updated) on the topic, column envelope: "
                                       "name 'Budi Hartono'"]


async def test_json_stored_with_unicode_escapes_is_searched_decoded(tmp_path: Path) -> None:
    url = await database(f"sqlite+aiosqlite:///{tmp_path / 'escaped.db'}",
                         {"profile": [{"tenant": "t", "number": 1, "data": {"name": "Zoë Hartono"}}]})
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.text("SELECT data FROM profile"))).scalar_one()
    await engine.dispose()
    assert "\\u00eb" in stored  # what a plain substring search would miss
    found = await find_personal_data(url, PersonalData(name="zoë hartono"), since=ERASED_AT)
    assert [str(f) for f in found] == ["table profile, row tenant='t', number=1, column data: name 'zoë hartono'"]


def test_personal_data_too_short_to_search_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        PersonalData(name="Ana").needles()
    person = PersonalData.of_customer({"name": "Ana Wijaya", "emails": [], "phones": [],
                                       "address": {"line1": "Jl. Merdeka 1", "line2": "B 2", "city": "Bogor",
                                                   "postal_code": "16111", "country": "ID"}})
    assert [n.text for n in person.needles()] == ["Ana Wijaya", "Jl. Merdeka 1", "16111"]


@pytest.mark.integration
async def test_postgres_columns_are_found_by_reflection_too(postgres: PostgresServer) -> None:
    url = await database(postgres.async_url(await postgres.create_database(prefix="erasure")), LEAKY)
    found = await find_personal_data(url, PERSON, since=ERASED_AT)
    assert sorted(f.where.split(",")[0] for f in found) == [
        "event ev-2 (x.thing.happened) in table outbox", "table loose", "table note", "table profile",
        "table profile"]
