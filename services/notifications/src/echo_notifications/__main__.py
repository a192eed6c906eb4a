from echo_runtime.cli import run_service_cli

from echo_notifications.bootstrap import bootstrap
from echo_notifications.settings import NotificationsSettings

raise SystemExit(run_service_cli(bootstrap, NotificationsSettings))
