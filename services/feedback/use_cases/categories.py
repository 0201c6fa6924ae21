"""The managed category tree: create, rename, move, retire.

Each category keeps the path of ids from the root (``/root/child/``); a case copies its category's
path when it is opened, so "this category and its subtree" is a prefix match on the case. Moving a
category rewrites the paths of its subtree (and of their cases). Names are unique among siblings,
case-insensitively (a unique constraint, not a check). A retired category takes no new cases and
keeps its history; a category with active children cannot be retired until they are.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.errors import CategoryNotFound
from services.feedback.models import Case, Category, new_id
from services.feedback.schemas import CategoryCreate, CategoryUpdate
from services.feedback.use_cases.sla import path_ids
from shared.db.types import utcnow
from shared.http.errors import Conflict, Unprocessable

MAX_DEPTH = 8


def public(category: Category) -> dict[str, Any]:
    return {"id": category.id, "name": category.name, "parent_id": category.parent_id,
            "path": path_ids(category.path), "active": category.active, "retired_at": category.retired_at,
            "created_by": category.created_by, "created_at": category.created_at,
            "updated_at": category.updated_at}


async def get(session: AsyncSession, *, category_id: str, for_update: bool = False) -> Category:
    row = await session.get(Category, category_id, with_for_update=for_update or None, populate_existing=for_update)
    if row is None:
        raise CategoryNotFound(category_id)
    return row


async def _flush_unique(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a sibling category is already called {name!r}", name=name) from exc


async def _parent(session: AsyncSession, parent_id: str | None) -> Category | None:
    if parent_id is None:
        return None
    parent = await session.get(Category, parent_id)
    if parent is None:
        raise Unprocessable(f"no category {parent_id} to put it under", field="parent_id", parent_id=parent_id)
    if not parent.active:
        raise Unprocessable(f"category {parent_id} is retired and takes no children", field="parent_id",
                            parent_id=parent_id)
    if len(path_ids(parent.path)) >= MAX_DEPTH:
        raise Unprocessable(f"the tree is at most {MAX_DEPTH} levels deep", field="parent_id")
    return parent


async def create(session: AsyncSession, *, data: CategoryCreate, actor: str) -> Category:
    parent = await _parent(session, data.parent_id)
    now = utcnow()
    category_id = new_id()
    row = Category(id=category_id, name=data.name, name_key=data.name.lower(), parent_id=data.parent_id,
                   parent_key=data.parent_id or "", path=f"{parent.path if parent else '/'}{category_id}/",
                   active=True, created_by=actor, created_at=now, updated_at=now)
    session.add(row)
    await _flush_unique(session, data.name)
    return row


async def list_all(session: AsyncSession, *, include_retired: bool) -> list[Category]:
    query = select(Category).order_by(Category.path)
    if not include_retired:
        query = query.where(Category.active.is_(True))
    return list((await session.execute(query.limit(5000))).scalars())


async def change(session: AsyncSession, *, category_id: str, data: CategoryUpdate, actor: str) -> Category:
    row = await get(session, category_id=category_id, for_update=True)
    fields = data.model_fields_set
    now = utcnow()
    if "retired" in fields and data.retired != (not row.active):
        if data.retired:
            children = await session.scalar(select(func.count()).select_from(Category).where(
                Category.parent_id == row.id, Category.active.is_(True)))
            if children:
                raise Conflict(f"category {row.id} has {children} active sub-categories: retire or move them first",
                               category_id=row.id, active_children=children)
            row.active, row.retired_at = False, now
        else:
            if row.parent_id is not None:
                await _parent(session, row.parent_id)  # an active parent is needed to come back
            row.active, row.retired_at = True, None
    if "name" in fields and data.name is not None and data.name != row.name:
        row.name, row.name_key = data.name, data.name.lower()
    if "parent_id" in fields and data.parent_id != row.parent_id:
        await _move(session, row, data.parent_id)
    row.updated_at = now
    await _flush_unique(session, row.name)
    return row


async def _move(session: AsyncSession, row: Category, parent_id: str | None) -> None:
    parent = await _parent(session, parent_id)
    if parent is not None and parent.path.startswith(row.path):
        raise Unprocessable("a category cannot move under itself or one of its sub-categories", field="parent_id",
                            parent_id=parent_id)
    old_path = row.path
    new_path = f"{parent.path if parent else '/'}{row.id}/"
    row.parent_id, row.parent_key = parent_id, parent_id or ""
    row.path = new_path
    await session.flush()
    # The subtree's paths (the row itself is already done) and the cases filed under it.
    prefix_length = len(old_path)
    for table in (Category, Case):
        column = table.path if table is Category else table.category_path
        await session.execute(
            update(table).where(column.startswith(old_path, autoescape=True))
            .values({column: literal(new_path, type_=Text()).concat(func.substr(column, prefix_length + 1))}))
