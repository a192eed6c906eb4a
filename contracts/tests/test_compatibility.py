"""Each direction between the previous released `echo-contracts` and this one.

The previous release is rebuilt from git history (`git archive <rev> contracts/src`) into a temp
directory and imported from there in a subprocess (`compat_probe.py`, PYTHONPATH first), so both
versions run side by side without installing anything. Events produced by each are decoded by
the other: with only their required fields and with every field.

PREVIOUS_RELEASE is pinned: 504c077 is the last commit that changed `contracts/` before the
tolerant readers (echo-contracts 1.0.0, closed models). Move it to the commit of a release when
the next one is cut (the commit that bumps `contracts/pyproject.toml`'s version).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

PREVIOUS_RELEASE = "504c077c32c0e69ed1fabb361ce36d3760ca1cd4"
CONTRACTS = Path(__file__).resolve().parents[1]
REPO = CONTRACTS.parent
PROBE = Path(__file__).with_name("compat_probe.py")


def _probe(src: Path, mode: str, stdin: str | None = None) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, str(PROBE), mode],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=src,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"echo_contracts from {src}" in done.stderr, done.stderr  # the version meant
    result: list[str] = json.loads(done.stdout)
    return result


def incompatibilities(reader: Path, writer: Path) -> list[str]:
    """Bodies `writer` produces that `reader` cannot decode (types it does not know are fine:
    a reader built before a type existed sees it as unknown, by design)."""
    bodies = _probe(writer, "produce")
    verdicts = _probe(reader, "decode", json.dumps(bodies))
    return [
        f"{json.loads(body)['type']}: {verdict}"
        for body, verdict in zip(bodies, verdicts, strict=True)
        if verdict not in ("ok", "unknown")
    ]


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`contracts/src` as it was at PREVIOUS_RELEASE (the clone has full history)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", PREVIOUS_RELEASE, "contracts/src"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert archive.returncode == 0, (
        f"git archive {PREVIOUS_RELEASE} failed ({archive.stderr.decode()[:300]}):"
        " the compatibility test needs the repository's history (no shallow clone)"
    )
    target = tmp_path_factory.mktemp("previous-contracts")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target / "contracts" / "src"


def _planted(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of this version's contracts with one edit to `events.py`."""
    src = tmp_path / "src"
    shutil.copytree(CONTRACTS / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
    events = src / "echo_contracts" / "events.py"
    text = events.read_text()
    assert text.count(old) == 1, f"the planted edit must match once: {old!r}"
    events.write_text(text.replace(old, new))
    return src


SCHEDULED_TAIL = (
    "    ends_at: datetime\n"
    "    timezone: TimeZoneName\n"
    "    sequence: int = Field(default=0, ge=0)\n"
)


def test_the_previous_release_reads_what_this_one_produces(previous_release: Path) -> None:
    assert incompatibilities(reader=previous_release, writer=CONTRACTS / "src") == []


def test_this_release_reads_what_the_previous_one_produced(previous_release: Path) -> None:
    assert incompatibilities(reader=CONTRACTS / "src", writer=previous_release) == []


def test_a_new_optional_field_breaks_nobody(tmp_path: Path) -> None:
    """With tolerant readers (this release on), an added optional field is compatible."""
    newer = _planted(tmp_path, SCHEDULED_TAIL, SCHEDULED_TAIL + "    room: Name | None = None\n")
    assert incompatibilities(reader=CONTRACTS / "src", writer=newer) == []
    assert incompatibilities(reader=newer, writer=CONTRACTS / "src") == []


def test_a_field_made_required_fails_the_check(tmp_path: Path) -> None:
    """ProgrammeCreated.ends_on was optional: older producers wrote `null` (the minimal body)."""
    newer = _planted(
        tmp_path,
        "    ends_on: date | None = None\n    template_id",
        "    ends_on: date\n    template_id",
    )
    problems = incompatibilities(reader=newer, writer=CONTRACTS / "src")
    assert len(problems) == 1 and "programme_created" in problems[0] and "ends_on" in problems[0]
    print("\nmade required ->", problems)


def test_a_removed_field_fails_the_check(tmp_path: Path) -> None:
    newer = _planted(
        tmp_path, SCHEDULED_TAIL, SCHEDULED_TAIL.replace("    timezone: TimeZoneName\n", "")
    )
    problems = incompatibilities(reader=CONTRACTS / "src", writer=newer)
    assert len(problems) == 2 and all("timezone" in p for p in problems), problems
    print("\nremoved ->", problems)
