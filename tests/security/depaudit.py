"""Audit pinned dependencies against a vulnerability database that works offline.

The database is PyUp's `safety-db` (a dev dependency: advisories shipped inside the wheel), read
without network. `pip-audit` is installed too, but its services (OSV, the PyPI per-version JSON
API) are unreachable from these machines, so it cannot audit anything here; this is the gate that
runs. Its data ends in July 2021: it catches known-old vulnerable pins, not recent advisories,
and every run says so loudly (the data's date and age) so that a pass is never read as "no
known vulnerability".

Why not current advisories (issue 15, searched 2026-12-05): nothing obtained outside a package
registry may be committed, and no registry package carries a current advisory database. PyPI:
`safety-db` (latest 2021.7.17, the one used here); `safety` 3.8.1, `pip-audit` 2.10.1,
`osvcheck`, `osv-lib`, `osv-utils`, `appthreat-vulnerability-db` 7.0.3, `vulnhunter`,
`cve-guard`, `mcp-vulnerabilities` ship code that queries or downloads a database at run time,
no data (wheels of 18-340 KB inspected with `pip download --no-deps`). npm:
`@renovatebot/osv-offline-db` / `@renovatebot/osv-offline` and `@jamiemagee/osv-offline-db`
download the OSV dump from GitHub releases at run time (packages of 4 KB, deps `got`, `adm-zip`).
Debian: no advisory data package (`python3-cvelib` is an API client). The PyPA advisory database
(OSV files) would need a copy from outside the registries, which is the lead's decision.

    python -m tests.security.depaudit                   # the lock, via `uv export --frozen`
    python -m tests.security.depaudit requirements.txt
Exit 1 on any vulnerable pin, 0 otherwise; prints what it checked.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

REPO = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;#]+)")


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    advisory_id: str
    affected: str
    cve: str | None
    advisory: str


def database_dir() -> Path:
    # `safety_db/__init__.py` opens a relative path on import: locate the data without importing.
    spec = importlib.util.find_spec("safety_db")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("safety-db is not installed: run `scripts/platform setup`")
    return Path(next(iter(spec.submodule_search_locations)))


def load_database() -> tuple[dict[str, list[dict[str, Any]]], datetime]:
    raw: dict[str, Any] = json.loads((database_dir() / "insecure_full.json").read_text())
    meta = raw.pop("$meta", {})
    stamp = datetime.fromtimestamp(int(meta.get("timestamp", 0)), UTC)
    return {canonicalize_name(k): v for k, v in raw.items()}, stamp


def parse_pins(text: str) -> list[tuple[str, str]]:
    """`name==version` pins of a requirements file (comments, hashes, markers ignored)."""
    pins: list[tuple[str, str]] = []
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins.append((canonicalize_name(match.group(1)), match.group(3)))
    return pins


def audit(pins: list[tuple[str, str]], db: dict[str, list[dict[str, Any]]]) -> list[Finding]:
    """Every advisory whose affected versions include a pin."""
    findings = []
    for name, version in pins:
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        for entry in db.get(name, []):
            for spec in entry.get("specs", []):
                try:
                    affected = SpecifierSet(spec)
                except InvalidSpecifier:
                    continue
                if affected.contains(parsed, prereleases=True):
                    findings.append(
                        Finding(
                            name,
                            version,
                            str(entry.get("id")),
                            spec,
                            entry.get("cve"),
                            str(entry.get("advisory", ""))[:200],
                        )
                    )
                    break
    return findings


def locked_requirements() -> str:
    """The locked dependency set (all groups), as `uv export --frozen` writes it."""
    uv = REPO / ".tools" / "bin" / "uv"
    result = subprocess.run(
        [str(uv), "export", "--frozen", "--no-hashes", "--all-groups", "--no-emit-workspace"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def main(argv: list[str]) -> int:
    text = Path(argv[0]).read_text() if argv else locked_requirements()
    source = argv[0] if argv else "uv.lock (uv export --frozen)"
    db, stamp = load_database()
    pins = parse_pins(text)
    findings = audit(pins, db)
    age = (datetime.now(UTC) - stamp).days
    print(
        f"!! ADVISORY DATA OF {stamp:%Y-%m-%d} ({age} days old): advisories published after"
        f" {stamp:%Y-%m-%d} are NOT checked; a pass means only that no pin is vulnerable to"
        " what was known then. No package registry carries a current advisory database"
        " (see tests/security/depaudit.py)."
    )
    print(
        f"dependency audit: {len(pins)} pinned packages from {source} checked against"
        f" safety-db ({len(db)} packages with advisories, data of {stamp:%Y-%m-%d});"
        f" {len(findings)} vulnerable"
    )
    for f in findings:
        print(f"  VULNERABLE {f.package}=={f.version} ({f.affected}) {f.advisory_id} {f.cve or ''}")
        print(f"    {f.advisory}")
    if not pins:
        print("no pinned package found: nothing was audited", file=sys.stderr)
        return 1
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
