"""The staff directory as a FastAPI dependency (``app.state.staff``, set by each service's app)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.staff.directory import StaffDirectory


async def staff_of(request: Request) -> StaffDirectory:
    return request.app.state.staff


StaffDep = Annotated[StaffDirectory, Depends(staff_of)]
