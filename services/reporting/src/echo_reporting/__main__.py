"""`python -m echo_reporting [serve|migrate|rebuild]`."""

from __future__ import annotations

import asyncio
import sys


def main(argv: list[str]) -> int:
    if argv[:1] == ["rebuild"]:
        from echo_reporting.service_layer.rebuild import rebuild
        from echo_reporting.settings import ReportingSettings

        result = asyncio.run(rebuild(ReportingSettings()))
        return 0 if result.events or not result.skipped else 1

    from echo_runtime.cli import run_service_cli

    from echo_reporting.bootstrap import bootstrap
    from echo_reporting.settings import ReportingSettings

    return run_service_cli(bootstrap, ReportingSettings, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
