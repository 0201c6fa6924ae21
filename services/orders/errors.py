"""Domain errors of the orders service, each with its own problem type (mapped once, in shared.http.errors)."""

from __future__ import annotations

from shared.http.errors import Conflict, Gone, NotFound, Unprocessable


class OrderNotFound(NotFound):
    slug = "order-not-found"

    def __init__(self, order_id: str) -> None:
        super().__init__(f"no order {order_id}", order_id=order_id)


class ProductNotFound(NotFound):
    slug = "product-not-found"

    def __init__(self, product_id: str) -> None:
        super().__init__(f"no product {product_id}", product_id=product_id)


class CustomerUnknown(Unprocessable):
    slug = "customer-unknown"

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer {customer_id}: the customers service does not know this id",
                         customer_id=customer_id, field="customer_id")


class CustomerMerged(Conflict):
    slug = "customer-merged"

    def __init__(self, customer_id: str, survivor_id: str | None) -> None:
        super().__init__(f"customer {customer_id} was merged into {survivor_id}; use the surviving customer",
                         customer_id=customer_id, survivor_id=survivor_id)


class CustomerErased(Gone):
    slug = "customer-erased"

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"customer {customer_id} was erased on request and can no longer order",
                         customer_id=customer_id)


class InvalidTransition(Conflict):
    slug = "invalid-order-transition"

    def __init__(self, detail: str, *, order_id: str, status: str) -> None:
        super().__init__(detail, order_id=order_id, order_status=status)  # "status" is the HTTP status
