"""Use cases of the customers service, one module per aggregate.

Each function takes the caller's session and keyword-only arguments, changes state, adds its
events to the outbox and never commits: the router commits state and events together. Anything
written for a customer first loads the customer with ``customers.get_active_customer(...,
for_update=True)``: a merge or erasure in progress is waited for and its outcome seen.
"""
