"""The dependency audit passes on the lock and fails on a known-vulnerable pin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.security.depaudit import REPO, audit, load_database, locked_requirements, parse_pins


def run_audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.security.depaudit", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_locked_dependencies_have_no_known_vulnerable_pin() -> None:
    result = run_audit()
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    pins = parse_pins(locked_requirements())
    assert len(pins) > 100  # the whole lock was read, not an empty list
    assert f"{len(pins)} pinned packages" in result.stdout


def test_a_known_vulnerable_pin_fails_the_audit(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "jinja2==2.10\nrequests==2.31.0\n# a comment\nurllib3==1.24.1 ; python_version >= '3'\n"
    )
    result = run_audit(str(requirements))
    print(result.stdout)
    assert result.returncode == 1
    assert "VULNERABLE jinja2==2.10" in result.stdout
    assert "VULNERABLE urllib3==1.24.1" in result.stdout
    assert "requests" not in result.stdout.split("checked")[1].split("VULNERABLE")[0]


def test_fixed_versions_are_not_flagged() -> None:
    db, _ = load_database()
    assert audit([("jinja2", "2.10")], db)
    assert not audit([("jinja2", "3.1.6")], db)
    assert parse_pins("Jinja2[i18n]==2.10 \\\n    --hash=sha256:abc\n") == [("jinja2", "2.10")]


def test_an_empty_requirements_file_is_a_failure(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    assert run_audit(str(empty)).returncode == 1


def test_the_audit_says_how_old_its_advisory_data_is() -> None:
    _, stamp = load_database()
    result = run_audit()
    assert f"ADVISORY DATA OF {stamp:%Y-%m-%d}" in result.stdout
    assert "days old" in result.stdout and "NOT checked" in result.stdout
    assert f"data of {stamp:%Y-%m-%d}" in result.stdout  # on the summary line too
