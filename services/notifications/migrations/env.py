from echo_notifications.adapters.tables import metadata
from echo_runtime.database import run_alembic_env

run_alembic_env(metadata)
