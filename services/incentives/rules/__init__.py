"""Pure rules of the incentives service: no I/O, Decimal only, unit-tested against hand-computed figures."""
