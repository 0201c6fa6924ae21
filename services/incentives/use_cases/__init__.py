"""Use cases of the incentives service, one module per aggregate: keyword-only, add outbox events, never commit."""
