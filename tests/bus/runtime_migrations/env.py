from shared.db.base import shared_metadata
from shared.db.migrations import run_migrations_from_env

run_migrations_from_env(shared_metadata)
