from echo_runtime.database import run_alembic_env
from probe.service import metadata

run_alembic_env(metadata)
