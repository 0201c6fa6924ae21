"""Clients of other services' HTTP APIs that every service may use (owner lookups)."""
