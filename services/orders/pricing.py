"""Pricing rules: pure functions on Decimal, no I/O.

The rounding rule, stated once:

- Money is rounded to the currency's minor unit (ISO 4217: two digits for IDR, EUR, USD...,
  none for JPY, KRW...) with ROUND_HALF_UP (0.005 -> 0.01, 2.5 JPY -> 3 JPY).
- Prices and costs are given in whole minor units, so a line's gross (unit price x quantity)
  and cost (unit cost x quantity) are exact and never rounded.
- The loyalty discount is computed and rounded **per line**: discount = round(gross x percent / 100).
  The line's net is gross - discount, its margin net - cost.
- The order's gross, discount, net, cost and margin are the **sums of its rounded lines**, so the
  order always adds up to its lines and nothing is rounded twice.
- A return of q of a line's Q units is pro-rated from the line's recorded net, cumulatively:
  the net returned so far after R units is round(net x R / Q), and each return takes the
  difference from the previous cumulative figure. Returning a line in several parts therefore
  adds up to exactly its net, never a cent more or less. Gross and cost of a return are exact
  (unit price or cost x q); its discount is gross - net.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
HUNDRED = Decimal("100")
# The largest order total accepted: it leaves room for a lifetime of such orders in a customer's
# loyalty balance within the 18 integer digits amounts are stored with.
MAX_ORDER_AMOUNT = Decimal("1e15")

# ISO 4217 currencies whose minor unit is not two digits. Three-digit currencies (BHD, KWD, ...)
# are not accepted: amounts are stored with two decimals.
_ZERO_DIGIT_CURRENCIES = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                                    "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"})
_THREE_DIGIT_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


class PricingError(ValueError):
    """An amount or currency the rules cannot price (the caller turns it into a 422)."""


def minor_digits(currency: str) -> int:
    if currency in _THREE_DIGIT_CURRENCIES:
        raise PricingError(f"{currency} has three minor digits, which this service does not support")
    return 0 if currency in _ZERO_DIGIT_CURRENCIES else 2


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_digits(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded half-up to the minor unit of ``currency``."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def is_whole_minor_units(amount: Decimal, currency: str) -> bool:
    return amount == amount.quantize(quantum(currency))


@dataclass(frozen=True)
class CatalogPrice:
    product_id: str
    unit_price: Decimal
    unit_cost: Decimal


@dataclass(frozen=True)
class PricedLine:
    product_id: str
    quantity: int
    unit_price: Decimal
    unit_cost: Decimal
    discount_percent: Decimal
    gross: Decimal
    discount: Decimal
    net: Decimal
    cost: Decimal

    @property
    def margin(self) -> Decimal:
        return self.net - self.cost


@dataclass(frozen=True)
class Totals:
    gross: Decimal
    discount: Decimal
    net: Decimal
    cost: Decimal

    @property
    def margin(self) -> Decimal:
        return self.net - self.cost

    @classmethod
    def zero(cls, currency: str) -> Totals:
        z = round_money(ZERO, currency)
        return cls(z, z, z, z)


def price_line(price: CatalogPrice, *, quantity: int, discount_percent: Decimal, currency: str) -> PricedLine:
    """One line at the catalogue price with the loyalty discount, rounded per line."""
    if quantity <= 0:
        raise PricingError("a quantity is a positive whole number")
    if not ZERO <= discount_percent <= HUNDRED:
        raise PricingError("a discount percentage lies between 0 and 100")
    gross = round_money(price.unit_price * quantity, currency)
    discount = round_money(gross * discount_percent / HUNDRED, currency)
    cost = round_money(price.unit_cost * quantity, currency)
    return PricedLine(product_id=price.product_id, quantity=quantity, unit_price=price.unit_price,
                      unit_cost=price.unit_cost, discount_percent=discount_percent, gross=gross,
                      discount=discount, net=gross - discount, cost=cost)


def price_order(items: Sequence[tuple[CatalogPrice, int]], *, discount_percent: Decimal,
                currency: str) -> tuple[list[PricedLine], Totals]:
    """Lines priced one by one; the totals are the sums of the rounded lines."""
    lines = [price_line(price, quantity=qty, discount_percent=discount_percent, currency=currency)
             for price, qty in items]
    return lines, sum_totals(((ln.gross, ln.discount, ln.net, ln.cost) for ln in lines), currency)


def sum_totals(parts: Iterable[tuple[Decimal, Decimal, Decimal, Decimal]], currency: str) -> Totals:
    gross = discount = net = cost = round_money(ZERO, currency)
    for g, d, n, c in parts:
        gross, discount, net, cost = gross + g, discount + d, net + n, cost + c
    return Totals(gross=gross, discount=discount, net=net, cost=cost)


@dataclass(frozen=True)
class ReturnedPart:
    quantity: int
    gross: Decimal
    discount: Decimal
    net: Decimal
    cost: Decimal

    @property
    def margin(self) -> Decimal:
        return self.net - self.cost


def prorate_return(*, line_quantity: int, line_net: Decimal, unit_price: Decimal, unit_cost: Decimal,
                   already_returned: int, quantity: int, currency: str) -> ReturnedPart:
    """The amounts of returning ``quantity`` more units of a line (cumulative pro-rating, see above)."""
    if quantity <= 0:
        raise PricingError("a returned quantity is a positive whole number")
    if already_returned < 0 or already_returned + quantity > line_quantity:
        raise PricingError(f"only {line_quantity - already_returned} of {line_quantity} can still be returned")
    before = round_money(line_net * already_returned / line_quantity, currency)
    after = round_money(line_net * (already_returned + quantity) / line_quantity, currency)
    net = after - before
    gross = round_money(unit_price * quantity, currency)
    cost = round_money(unit_cost * quantity, currency)
    return ReturnedPart(quantity=quantity, gross=gross, discount=gross - net, net=net, cost=cost)
