import pytest

pytest_plugins = ["echo_runtime.testing"]

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
