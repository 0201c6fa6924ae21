"""Domain errors of the feedback service, each with its own problem type (mapped once, in shared.http.errors)."""

from __future__ import annotations

from collections.abc import Sequence

from shared.http.errors import Conflict, Gone, NotFound, Unprocessable


class CaseNotFound(NotFound):
    slug = "case-not-found"

    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id}", case_id=case_id)


class CategoryNotFound(NotFound):
    slug = "category-not-found"

    def __init__(self, category_id: str) -> None:
        super().__init__(f"no category {category_id}", category_id=category_id)


class StandardNotFound(NotFound):
    slug = "standard-not-found"

    def __init__(self, standard_id: str, version: int | None = None) -> None:
        detail = f"no standard {standard_id}" if version is None else f"standard {standard_id} has no version {version}"
        super().__init__(detail, standard_id=standard_id, **({} if version is None else {"version": version}))


class InvalidTransition(Conflict):
    """A command the case's status does not allow: names the status and what is allowed instead."""

    slug = "invalid-case-transition"

    def __init__(self, *, case_id: str, case_status: str, command: str, allowed: Sequence[str],
                 detail: str | None = None) -> None:
        super().__init__(detail or f"a case that is {case_status} does not take '{command}'; allowed: "
                                   f"{', '.join(allowed) or 'nothing'}",
                         case_id=case_id, case_status=case_status, command=command, allowed_commands=list(allowed))


class Unknown(Unprocessable):
    """A referenced customer, order, product, category or standard that does not exist."""

    slug = "unknown-reference"

    def __init__(self, field: str, value: str, detail: str) -> None:
        super().__init__(detail, field=field, **{field: value})


class CustomerMerged(Conflict):
    slug = "customer-merged"

    def __init__(self, customer_id: str, survivor_id: str | None) -> None:
        super().__init__(f"customer {customer_id} was merged into {survivor_id}; use the surviving customer",
                         customer_id=customer_id, survivor_id=survivor_id)


class CustomerErased(Gone):
    slug = "customer-erased"

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"customer {customer_id} was erased on request; no new cases can be opened for them",
                         customer_id=customer_id)
