"""Service-quality standards: documents with versions, staff acknowledgements, citations by cases.

A version is in force from its ``effective_from`` until a later version's ``effective_from``; old
versions stay readable. An acknowledgement records that an employee read and accepted the version
in force, once per version (repeating it changes nothing). Who must acknowledge: the active
employees of the staff-directory replica whose role is among the standard's ``required_roles``.
An employee the replica has not heard of yet is accepted and shown as unverified.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.errors import StandardNotFound, Unknown
from services.feedback.models import (
    Case,
    CaseResolution,
    CaseResponse,
    EmployeeReplica,
    Standard,
    StandardAcknowledgement,
    StandardVersion,
    new_id,
)
from services.feedback.schemas import AcknowledgementCreate, StandardCreate, StandardVersionCreate
from services.feedback.use_cases import replicas, sla
from shared.bus.outbox import add_event
from shared.db.dialect import insert_for
from shared.events.contracts import feedback as events
from shared.http.errors import Conflict, Unprocessable
from shared.http.pagination import PageParams, time_id_cursor, time_id_page


async def get(session: AsyncSession, *, standard_id: str, for_update: bool = False) -> Standard:
    row = await session.get(Standard, standard_id, with_for_update=for_update or None, populate_existing=for_update)
    if row is None:
        raise StandardNotFound(standard_id)
    return row


async def version_in_force(session: AsyncSession, *, standard_id: str, now: datetime) -> StandardVersion | None:
    return await session.scalar(
        select(StandardVersion).where(StandardVersion.standard_id == standard_id,
                                      StandardVersion.effective_from <= now)
        .order_by(StandardVersion.effective_from.desc(), StandardVersion.version.desc()).limit(1))


async def get_version(session: AsyncSession, *, standard_id: str, version: int) -> StandardVersion:
    await get(session, standard_id=standard_id)
    row = await session.get(StandardVersion, (standard_id, version))
    if row is None:
        raise StandardNotFound(standard_id, version)
    return row


def _publish(session: AsyncSession, standard: Standard, version: StandardVersion) -> None:
    add_event(session, events.StandardPublishedV1(
        standard_id=standard.id, kind=standard.kind, title=version.title,  # type: ignore[arg-type]
        version=version.version, effective_from=version.effective_from, owner_id=standard.owner_id,
        required_roles=standard.required_roles, published_by=version.published_by,
        published_at=version.published_at), aggregate_id=standard.id, occurred_at=version.published_at)


async def create(session: AsyncSession, *, data: StandardCreate, actor: str, now: datetime) -> tuple[Standard,
                                                                                                      StandardVersion]:
    standard = Standard(id=new_id(), kind=data.kind, title=data.title, owner_id=data.owner_id,
                        required_roles=sorted(set(data.required_roles)), latest_version=1, created_by=actor,
                        created_at=now, updated_at=now)
    version = StandardVersion(standard_id=standard.id, version=1, title=data.title, body=data.body,
                              effective_from=data.effective_from or now, published_by=actor, published_at=now)
    session.add(standard)
    await session.flush()
    session.add(version)
    _publish(session, standard, version)
    return standard, version


async def publish_version(session: AsyncSession, *, standard_id: str, data: StandardVersionCreate, actor: str,
                          now: datetime) -> tuple[Standard, StandardVersion]:
    standard = await get(session, standard_id=standard_id, for_update=True)
    effective_from = data.effective_from or now
    latest = await session.get(StandardVersion, (standard.id, standard.latest_version))
    if latest is not None and effective_from < latest.effective_from:
        raise Unprocessable(f"version {latest.version} takes effect at {latest.effective_from.isoformat()}; a new "
                            "version cannot take effect before it", field="effective_from")
    standard.latest_version += 1
    standard.title = data.title or standard.title
    standard.updated_at = now
    version = StandardVersion(standard_id=standard.id, version=standard.latest_version, title=standard.title,
                              body=data.body, change_note=data.change_note, effective_from=effective_from,
                              published_by=actor, published_at=now)
    session.add(version)
    _publish(session, standard, version)
    return standard, version


async def list_standards(session: AsyncSession, *, page: PageParams, kind: str | None) -> tuple[list[Standard],
                                                                                                 str | None]:
    query = select(Standard)
    if kind is not None:
        query = query.where(Standard.kind == kind)
    if page.cursor:
        at, last_id = time_id_cursor(page.cursor, "created_at")
        query = query.where(or_(Standard.created_at < at, and_(Standard.created_at == at, Standard.id < last_id)))
    rows = list((await session.execute(query.order_by(Standard.created_at.desc(), Standard.id.desc())
                                       .limit(page.limit + 1))).scalars())
    return time_id_page(rows, page.limit, "created_at")


async def versions_in_force(session: AsyncSession, standard_ids: list[str], now: datetime) -> dict[str, int]:
    if not standard_ids:
        return {}
    rows = await session.execute(
        select(StandardVersion.standard_id, func.max(StandardVersion.version))
        .where(StandardVersion.standard_id.in_(standard_ids), StandardVersion.effective_from <= now)
        .group_by(StandardVersion.standard_id))
    return {standard_id: version for standard_id, version in rows}


async def version_numbers(session: AsyncSession, standard_id: str) -> list[int]:
    return list((await session.execute(select(StandardVersion.version).where(
        StandardVersion.standard_id == standard_id).order_by(StandardVersion.version))).scalars())


async def acknowledge(session: AsyncSession, *, standard_id: str, data: AcknowledgementCreate, actor: str,
                      may_record_for_others: bool, now: datetime) -> tuple[StandardAcknowledgement, bool]:
    """Record the acknowledgement of the version in force; repeating it returns the first one."""
    await get(session, standard_id=standard_id)
    employee_id = data.employee_id or actor
    if employee_id != actor and not may_record_for_others:
        raise Unprocessable("only a manager may record an acknowledgement for another employee",
                            field="employee_id")
    current = await version_in_force(session, standard_id=standard_id, now=now)
    if current is None:
        raise Conflict(f"standard {standard_id} has no version in force yet", standard_id=standard_id)
    if data.version is not None and data.version != current.version:
        raise Conflict(f"version {current.version} is in force; acknowledge that one", standard_id=standard_id,
                       version_in_force=current.version, version=data.version)
    claimed = await session.execute(
        insert_for(session)(StandardAcknowledgement)
        .values(standard_id=standard_id, version=current.version, employee_id=employee_id, acknowledged_at=now,
                recorded_by=actor)
        .on_conflict_do_nothing(index_elements=["standard_id", "version", "employee_id"]))
    row = await session.get(StandardAcknowledgement, (standard_id, current.version, employee_id),
                            populate_existing=True)
    assert row is not None
    if claimed.rowcount != 1:
        return row, False
    verified = bool(await replicas.employees(session, {employee_id}))
    add_event(session, events.StandardAcknowledgedV1(
        standard_id=standard_id, version=current.version, employee_id=employee_id, employee_verified=verified,
        acknowledged_at=now), aggregate_id=standard_id, occurred_at=now)
    return row, True


async def acknowledgement_status(session: AsyncSession, *, standard_id: str, now: datetime) -> dict[str, Any]:
    standard = await get(session, standard_id=standard_id)
    current = await version_in_force(session, standard_id=standard_id, now=now)
    result: dict[str, Any] = {"standard_id": standard_id, "version": current.version if current else None,
                              "required_roles": standard.required_roles, "acknowledged": [], "pending": []}
    if current is None:
        return result
    acks = list((await session.execute(
        select(StandardAcknowledgement, EmployeeReplica)
        .outerjoin(EmployeeReplica, EmployeeReplica.employee_id == StandardAcknowledgement.employee_id)
        .where(StandardAcknowledgement.standard_id == standard_id, StandardAcknowledgement.version == current.version)
        .order_by(StandardAcknowledgement.acknowledged_at))).all())
    done = set()
    for ack, employee in acks:
        done.add(ack.employee_id)
        result["acknowledged"].append({"employee_id": ack.employee_id, "name": employee.name if employee else None,
                                       "role": employee.role if employee else None, "verified": employee is not None,
                                       "acknowledged_at": ack.acknowledged_at})
    if standard.required_roles:
        must = (await session.execute(
            select(EmployeeReplica).where(EmployeeReplica.active.is_(True),
                                          EmployeeReplica.role.in_(standard.required_roles))
            .order_by(EmployeeReplica.name, EmployeeReplica.employee_id))).scalars()
        result["pending"] = [{"employee_id": e.employee_id, "name": e.name, "role": e.role, "verified": True}
                             for e in must if e.employee_id not in done]
    return result


async def resolve_citation(session: AsyncSession, *, standard_id: str | None, version: int | None,
                           now: datetime) -> tuple[str | None, int | None]:
    """A citation names an existing version; without a number, the version in force (422 otherwise)."""
    if standard_id is None:
        return None, None
    if await session.get(Standard, standard_id) is None:
        raise Unknown("cited_standard_id", standard_id, f"no standard {standard_id}")
    if version is None:
        current = await version_in_force(session, standard_id=standard_id, now=now)
        if current is None:
            raise Unprocessable(f"standard {standard_id} has no version in force to cite", field="cited_standard_id")
        return standard_id, current.version
    if await session.get(StandardVersion, (standard_id, version)) is None:
        raise Unprocessable(f"standard {standard_id} has no version {version}", field="cited_standard_version")
    return standard_id, version


async def citations(session: AsyncSession, *, standard_id: str, page: PageParams) -> tuple[list[dict[str, Any]],
                                                                                            str | None]:
    """The cases whose responses or resolutions cited the standard, the latest citation first."""
    await get(session, standard_id=standard_id)
    by_response = select(CaseResponse.case_id.label("case_id"), CaseResponse.cited_standard_version.label("version"),
                         CaseResponse.at.label("cited_at"), CaseResponse.id.label("reference_id"),
                         literal("response", String(10)).label("cited_in")) \
        .where(CaseResponse.cited_standard_id == standard_id)
    by_resolution = select(CaseResolution.case_id, CaseResolution.cited_standard_version, CaseResolution.resolved_at,
                           cast(CaseResolution.resolution_no, String(36)),
                           literal("resolution", String(10))) \
        .where(CaseResolution.cited_standard_id == standard_id)
    cited = union_all(by_response, by_resolution).subquery()
    query = select(cited, Case.seq, Case.received_at, Case.kind, Case.status).join(Case, Case.id == cited.c.case_id)
    order_key = cited.c.reference_id
    if page.cursor:
        at, last = time_id_cursor(page.cursor, "cited_at")
        query = query.where(or_(cited.c.cited_at < at, and_(cited.c.cited_at == at, order_key < last)))
    rows = list((await session.execute(query.order_by(cited.c.cited_at.desc(), order_key.desc())
                                       .limit(page.limit + 1))).all())

    class _Row:
        def __init__(self, row: Any) -> None:
            self.row, self.cited_at, self.id = row, row.cited_at, row.reference_id

    page_rows, next_cursor = time_id_page([_Row(r) for r in rows], page.limit, "cited_at")
    return [{"case_id": r.row.case_id, "case_number": sla.case_number(r.row.seq, r.row.received_at),
             "kind": r.row.kind, "status": r.row.status, "cited_in": r.row.cited_in, "cited_version": r.row.version,
             "cited_at": r.row.cited_at, "reference_id": r.row.reference_id} for r in page_rows], next_cursor
