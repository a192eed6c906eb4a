import os

import pytest

pytest_plugins = ["echo_runtime.testing"]


def _worker_port_range() -> None:
    """Each pytest-xdist worker (and every process it starts) picks ports from its own slice of
    20000-32767: two workers once picked the same port for a NATS route and an HTTP service."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or not worker[2:].isdigit() or count < 2:
        return
    index, size = int(worker[2:]), (32_768 - 20_000) // count
    low = 20_000 + index * size
    os.environ["ECHO_PORT_RANGE"] = f"{low}-{low + size - 1}"


_worker_port_range()

#: Folders whose tests print the figures the issues ask for (faults, redeliveries, matrix cells...).
FIGURE_FOLDERS = ("tests/faults/", "tests/security/")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show what the proof tests printed, also when they ran in pytest-xdist workers."""
    lines: list[str] = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "when", "") != "call" or not nodeid.startswith(FIGURE_FOLDERS):
                continue
            printed = report.capstdout.strip()
            if printed:
                lines.append(f"{nodeid} ({outcome})")
                lines.extend(f"    {line}" for line in printed.splitlines())
    if lines:
        terminalreporter.section("figures printed by the fault and security tests")
        for line in lines:
            terminalreporter.write_line(line)
