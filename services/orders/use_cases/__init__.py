"""Use cases of the orders service, one module per aggregate.

Each function takes the caller's session and keyword-only arguments, changes state, adds its
events to the outbox and never commits: the router (or the consumer runner) commits state and
events together.

Locks, always taken in this order so that no two transactions wait on each other in a cycle:
an order row (``FOR UPDATE``, ``orders`` and ``returns``); customer replica rows (``customers``:
``FOR SHARE`` to follow a customer to the survivor of its merges, ``FOR UPDATE`` to change one),
each chain from the duplicate towards its survivor; the loyalty program lock (``loyalty``: a
transaction-scoped advisory lock, shared to price or count spend, exclusive to replace the
program; placing an order takes it with the products' read, after the replica row); then
loyalty account rows (``FOR UPDATE``; two at once in id order, or along a chain of merges). The
account row is the per-customer lock that serialises that customer's ledger and tier.
SQLite serialises all writers anyway (``BEGIN IMMEDIATE``), so there the row locks and the program
lock are no-ops.
"""
