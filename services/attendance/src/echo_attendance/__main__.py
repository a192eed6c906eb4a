from echo_runtime.cli import run_service_cli

from echo_attendance.bootstrap import bootstrap
from echo_attendance.settings import AttendanceSettings

raise SystemExit(run_service_cli(bootstrap, AttendanceSettings))
