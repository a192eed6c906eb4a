from echo_runtime.cli import run_service_cli

from echo_cases.bootstrap import bootstrap
from echo_cases.settings import CasesSettings

raise SystemExit(run_service_cli(bootstrap, CasesSettings))
