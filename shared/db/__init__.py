"""Async database access for SQLite (embedded default) and PostgreSQL."""
