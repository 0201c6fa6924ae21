"""Domain errors of the incentives service, each with its own problem type (mapped once, in shared.http.errors)."""

from __future__ import annotations

from shared.http.errors import Conflict, NotFound, Unprocessable


class EmployeeNotFound(NotFound):
    slug = "employee-not-found"

    def __init__(self, employee_id: str) -> None:
        super().__init__(f"no employee {employee_id} in the staff directory", employee_id=employee_id)


class EmployeeUnknown(Unprocessable):
    slug = "employee-unknown"

    def __init__(self, employee_ids: list[str], field: str) -> None:
        super().__init__(f"not in the staff directory: {', '.join(employee_ids)}", employee_ids=employee_ids,
                         field=field)


class ProductNotFound(NotFound):
    slug = "product-not-found"

    def __init__(self, product_id: str) -> None:
        super().__init__(f"no product {product_id} in the catalogue replica (products arrive from the orders "
                         f"service's events)", product_id=product_id)


class GiftNotFound(NotFound):
    slug = "gift-not-found"

    def __init__(self, gift_id: str) -> None:
        super().__init__(f"no gift {gift_id} in the catalogue", gift_id=gift_id)


class GiftRefused(Unprocessable):
    slug = "gift-not-allowed"

    def __init__(self, *, rule: str, field: str, matched: str, detail: str) -> None:
        super().__init__(detail, rule=rule, field=field, matched=matched)


class PeriodClosed(Conflict):
    slug = "period-closed"

    def __init__(self, period: str, *, action: str, next_open: str | None = None) -> None:
        hint = f"; write to an open period such as {next_open}" if next_open else ""
        super().__init__(f"period {period} is closed and its figures are frozen: {action} is not allowed{hint}",
                         period=period, period_status="closed", allowed="reads only")


class PeriodNotClosable(Conflict):
    slug = "period-not-closable"

    def __init__(self, detail: str, *, period: str, **extra: object) -> None:
        super().__init__(detail, period=period, period_status="open", **extra)


class InvalidPeriod(Unprocessable):
    slug = "invalid-period"

    def __init__(self, detail: str, field: str = "period") -> None:
        super().__init__(detail, field=field)
