from services.analytics.models import metadata
from shared.db.migrations import run_migrations_from_env

run_migrations_from_env(metadata)
