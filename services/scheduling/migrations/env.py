from echo_runtime.database import run_alembic_env
from echo_scheduling.adapters.tables import metadata

run_alembic_env(metadata)
