"""Reading customer profiles (``GET /customers/{id}``, ``GET /customers``): the service's hot read paths.

Core statements on a plain connection (``Database.read``) instead of ORM entities in a session:
loading SQLModel objects, dumping them and validating the dumps again cost more CPU than the
queries themselves. The tags and consents of a whole page come back in one statement. The
response model is validated once, from plain dicts, in pydantic's core (faster than constructing
a model per row in Python), and not again by FastAPI: the router sends it with
``shared.http.responses.json_response``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from services.customers import identity
from services.customers.models import Consent, Customer, CustomerTag
from services.customers.schemas import CustomerPublic, CustomersPage
from shared.http.errors import NotFound
from shared.http.pagination import PageParams, newest_first_after_cursor, time_id_cursor, time_id_page

_customer = Customer.__table__
_tag = CustomerTag.__table__
_consent = Consent.__table__
# What a profile shows: every column but the search text (tags and consents are added per row).
_PUBLIC_COLUMNS = [column for column in _customer.c if column.name != "search_text"]
_PUBLIC_NAMES = [column.name for column in _PUBLIC_COLUMNS]

# The statements are built once, with bound parameters: building a select (a union above all)
# per request cost more CPU than executing it.
_ONE = sa.select(*_PUBLIC_COLUMNS).where(_customer.c.id == sa.bindparam("customer_id"))


def _related(*, postgresql_array: bool) -> sa.Select[Any]:
    """Tags and consents of the customers ``ids`` in one statement: (customer id, channel, value, granted).

    A tag's row has no channel; tags come in the database's order of tags (its collation), as the
    profile always listed them.
    """
    if postgresql_array:
        # One array parameter: the same statement text (prepared once) for any number of ids.
        ids = sa.bindparam("ids", type_=postgresql.ARRAY(sa.String))
        tag_of, consent_of = _tag.c.customer_id == sa.any_(ids), _consent.c.customer_id == sa.any_(ids)
    else:
        tag_of = _tag.c.customer_id.in_(sa.bindparam("ids", expanding=True))
        consent_of = _consent.c.customer_id.in_(sa.bindparam("ids", expanding=True))
    both = sa.union_all(
        sa.select(_tag.c.customer_id, sa.cast(sa.null(), sa.String).label("channel"), _tag.c.tag.label("value"),
                  sa.cast(sa.null(), sa.Boolean).label("granted")).where(tag_of),
        sa.select(_consent.c.customer_id, _consent.c.channel, _consent.c.channel, _consent.c.granted)
        .where(consent_of),
    ).subquery()
    return sa.select(both).order_by(both.c.value)


_RELATED = {True: _related(postgresql_array=True), False: _related(postgresql_array=False)}


@functools.cache
def _page_query(filters: frozenset[str]) -> sa.Select[Any]:
    """The page query for the filters present (their values are bound parameters), built once per combination."""
    c = _customer.c
    query = sa.select(*_PUBLIC_COLUMNS)
    for name in ("segment", "manager_id", "status"):
        if name in filters:
            query = query.where(c[name] == sa.bindparam(name))
    if "tag" in filters:
        query = query.where(sa.exists().where(sa.and_(_tag.c.customer_id == c.id, _tag.c.tag == sa.bindparam("tag"))))
    if "pattern" in filters:
        matches = c.search_text.like(sa.bindparam("pattern"), escape="\\")
        if "digits" in filters:
            matches = sa.or_(matches, c.search_text.like(sa.bindparam("digits")))
        query = query.where(matches)
    if "created_from" in filters:
        query = query.where(c.created_at >= sa.bindparam("created_from"))
    if "created_to" in filters:
        query = query.where(c.created_at < sa.bindparam("created_to"))
    return newest_first_after_cursor(query, c.created_at, c.id, after_cursor="after_at" in filters)


async def get_customer(conn: AsyncConnection, *, customer_id: str) -> CustomerPublic:
    """The customer, whatever its status (merged ones name their survivor), or NotFound."""
    row = (await conn.execute(_ONE, {"customer_id": customer_id})).first()
    if row is None:
        raise NotFound(f"no customer {customer_id}", customer_id=customer_id)
    return CustomerPublic.model_validate(_profiles(await _related_of(conn, [row.id]), [row])[0])


async def list_customers(conn: AsyncConnection, *, page: PageParams, segment: str | None = None,
                         manager_id: str | None = None, tag: str | None = None, search: str | None = None,
                         created_from: datetime | None = None, created_to: datetime | None = None,
                         status: str | None = None) -> CustomersPage:
    """Newest first; the cursor is the (created_at, id) of the last row returned."""
    values: dict[str, Any] = {"limit": page.limit + 1}
    if segment:
        values["segment"] = segment.strip().lower()
    if manager_id:
        values["manager_id"] = manager_id
    if status:
        values["status"] = status
    if tag:
        values["tag"] = tag.strip().lower()
    if search:
        needle = search.strip().lower()
        values["pattern"] = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        digits = identity.phone_search_digits(needle)
        if digits:
            values["digits"] = f"%{digits}%"
    if created_from:
        values["created_from"] = created_from
    if created_to:
        values["created_to"] = created_to
    if page.cursor:
        values["after_at"], values["after_id"] = time_id_cursor(page.cursor, "created_at")
    rows = (await conn.execute(_page_query(frozenset(values) - {"limit"}), values)).all()
    rows, next_cursor = time_id_page(rows, page.limit, "created_at")
    related = await _related_of(conn, [row.id for row in rows])
    return CustomersPage.model_validate({"items": _profiles(related, rows), "next_cursor": next_cursor})


async def _related_of(conn: AsyncConnection, ids: list[str]) -> Sequence[sa.Row[Any]]:
    if not ids:
        return []
    return (await conn.execute(_RELATED[conn.dialect.name == "postgresql"], {"ids": ids})).all()


def _profiles(related: Sequence[sa.Row[Any]], rows: Sequence[sa.Row[Any]]) -> list[dict[str, Any]]:
    """The profiles as plain dicts, tags and consents filled in, for the response model to validate."""
    profiles = [dict(zip(_PUBLIC_NAMES, row, strict=True)) for row in rows]
    by_id = {}
    for profile in profiles:
        profile["tags"], profile["consents"] = [], {}
        by_id[profile["id"]] = profile
    for customer_id, channel, value, granted in related:
        if channel is None:
            by_id[customer_id]["tags"].append(value)
        else:
            by_id[customer_id]["consents"][channel] = granted
    return profiles
