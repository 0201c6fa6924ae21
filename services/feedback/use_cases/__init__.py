"""Use cases of the feedback service, one module per aggregate: change state, add outbox events, never commit."""
