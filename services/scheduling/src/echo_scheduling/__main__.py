from echo_runtime.cli import run_service_cli

from echo_scheduling.bootstrap import bootstrap
from echo_scheduling.settings import SchedulingSettings

raise SystemExit(run_service_cli(bootstrap, SchedulingSettings))
