"""The project's shared package: what every Pelanggan service needs and nothing service-specific.

- ``config``: the settings base class (one prefix per service, fail fast outside local mode).
- ``db``: async engine and sessions for SQLite and PostgreSQL, exact column types, migrations.
- ``events``: the event envelope, versioned contracts, JSON codec, AsyncAPI generation.
- ``bus``: transactional outbox and its relay, inbox, consumer runner, dead letters.
- ``http``: app factory, problem+json errors, auth, pagination, health.
- ``observability``: JSON logs with correlation ids, Prometheus metrics.
- ``testing``: fixtures that find or start the real broker and database.
"""
