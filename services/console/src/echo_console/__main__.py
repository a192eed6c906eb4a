"""`python -m echo_console serve`."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from echo_runtime.cli import run_service_cli

    from echo_console.bootstrap import bootstrap
    from echo_console.settings import ConsoleSettings

    return run_service_cli(bootstrap, ConsoleSettings, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
