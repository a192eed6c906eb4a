"""The integrator guide, as an integrator would follow it, against `echo-hub dev`.

- docs/examples/subscriber.py runs from a SEPARATE virtualenv holding only `echo-contracts`
  (a wheel built from contracts/) and `nats-py` with their dependencies, installed offline
  (`uv pip install --offline --no-index` from wheels made here: the contracts wheel by
  `uv build --offline`, the others repacked from this environment's installed files);
- the AsyncAPI document a service serves validates against the official AsyncAPI 3.0.0 JSON
  Schema (npm's @asyncapi/specs, fetched at install time by scripts/system-deps.sh), and every
  `$ref` in it resolves over HTTP from that service.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

import httpx
import jsonschema
import nats
import pytest
from echo_contracts import SessionScheduled, new_envelope, to_wire

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
UV = REPO / ".tools" / "bin" / "uv"
EXAMPLE = REPO / "docs" / "examples" / "subscriber.py"
SPECS = REPO / ".tools" / "asyncapi-specs" / "6.11.1" / "package" / "schemas"
#: echo-contracts and nats-py need these and nothing else.
RUNTIME_DISTS = (
    "nats-py",
    "pydantic",
    "pydantic-core",
    "typing-extensions",
    "annotated-types",
    "typing-inspection",
)


def _repack(dist_name: str, target: Path) -> Path:
    """A wheel of an installed distribution, from its RECORD (no index, no download)."""
    dist = metadata.distribution(dist_name)
    wheel_meta = dist.read_text("WHEEL") or ""
    tag = next(
        line.split(": ", 1)[1] for line in wheel_meta.splitlines() if line.startswith("Tag: ")
    )
    name = dist.metadata["Name"].replace("-", "_")
    path = target / f"{name}-{dist.version}-{tag}.whl"
    base = Path(str(dist.locate_file("")))
    records = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as whl:
        for file in dist.files or []:
            rel = file.as_posix()
            if rel.startswith("..") or rel.endswith(".pyc") or rel.endswith("/RECORD"):
                continue
            data = (base / rel).read_bytes()
            whl.writestr(rel, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{rel},sha256={digest},{len(data)}")
        record = next(f.as_posix() for f in dist.files or [] if f.as_posix().endswith("/RECORD"))
        whl.writestr(record, "\n".join([*records, f"{record},,"]) + "\n")
    return path


@pytest.fixture(scope="module")
def integrator_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("integrator-venv")
    wheels = root / "wheels"
    wheels.mkdir()
    built = subprocess.run(
        [str(UV), "build", "--offline", "--wheel", str(REPO / "contracts"), "-o", str(wheels)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    for dist in RUNTIME_DISTS:
        _repack(dist, wheels)
    venv = root / "venv"
    made = subprocess.run(
        [str(UV), "venv", "--python", sys.executable, str(venv)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr[-2000:]
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--offline",
            "--no-index",
            "--find-links",
            str(wheels),
            "--python",
            str(python),
            "echo-contracts",
            "nats-py",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    listed = subprocess.run(
        [str(UV), "pip", "list", "--python", str(python), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    names = sorted(p["name"] for p in json.loads(listed.stdout))
    assert names == sorted(["echo-contracts", *RUNTIME_DISTS]), names
    return python


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`echo-hub dev` for one region, no demo data, any free ports."""
    data = tmp_path_factory.mktemp("dev")
    log = data / "out.txt"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "echo_hub",
                "dev",
                "--regions",
                "ontario",
                "--no-seed",
                "--data-dir",
                str(data),
                "--base-port",
                "0",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 150
        while not (data / "urls.json").exists():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        yield {"data_dir": data, **json.loads((data / "urls.json").read_text())}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _session() -> SessionScheduled:
    return SessionScheduled(
        session_id=uuid.uuid4(),
        programme_id=uuid.uuid4(),
        starts_at=datetime(2027, 3, 1, 17, tzinfo=UTC),
        ends_at=datetime(2027, 3, 1, 18, tzinfo=UTC),
        timezone="America/Toronto",
    )


async def _publish(url: str, bodies: list[tuple[bytes, str]]) -> None:
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        for body, msg_id in bodies:
            await js.publish(
                "echo.ontario.scheduling.session_scheduled", body, headers={"Nats-Msg-Id": msg_id}
            )
    finally:
        await client.close()


def test_the_guide_example_runs_from_a_separate_virtualenv(
    integrator_python: Path, dev: dict[str, Any], tmp_path: Path
) -> None:
    env = new_envelope(_session(), region="ontario", service="scheduling")
    newer = to_wire(env).replace(b"session_scheduled.v1", b"session_scheduled.v2")
    newer = newer.replace(str(env.id).encode(), str(uuid.uuid4()).encode())
    asyncio.run(_publish(dev["nats"], [(to_wire(env), str(env.id)), (newer, "v2-" + str(env.id))]))
    command = [
        str(integrator_python),
        "-I",
        str(EXAMPLE),
        "--data-dir",
        str(dev["data_dir"]),
        "--region",
        "ontario",
        "--integrator",
        "acme",
        "--idle",
        "3",
    ]
    first = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"event echo.scheduling.session_scheduled.v1 {env.id} ontario" in first.stdout
    assert "skipped echo.scheduling.session_scheduled.v2" in first.stdout
    again = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False
    )
    assert again.returncode == 0 and "read 0 event(s)" in again.stdout, again.stdout  # durable
    replay = subprocess.run(
        [*command, "--since", "2020-01-01T00:00:00+00:00"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert replay.returncode == 0 and str(env.id) in replay.stdout, replay.stdout + replay.stderr
    print(
        f"\nguide example (separate venv): {first.stdout.strip().splitlines()[-1]}; "
        f"second run {again.stdout.strip().splitlines()[-1]}; replay "
        f"{replay.stdout.strip().splitlines()[-1]}"
    )


def _pointer(document: Any, fragment: str) -> Any:
    node = document
    for part in fragment.lstrip("/").split("/") if fragment else []:
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_the_served_asyncapi_validates_and_every_ref_resolves_over_http(
    dev: dict[str, Any],
) -> None:
    schema_file = SPECS / "3.0.0-without-$id.json"
    assert schema_file.exists(), f"{schema_file} missing: run scripts/system-deps.sh"
    served_url = dev["scheduling"] + "/asyncapi.json"
    document = httpx.get(served_url, timeout=10).raise_for_status().json()
    validator = jsonschema.Draft7Validator(json.loads(schema_file.read_text()))
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)
    ]
    assert errors == []
    broken_doc = {**document, "servers": {"x": {"host": "h", "protocol": "nats", "bad": 1}}}
    assert list(validator.iter_errors(broken_doc)), "the official schema must catch a bad server"
    fetched: dict[str, Any] = {served_url: document}
    refs = sorted(set(_refs(document)))
    unresolved = []
    for ref in refs:
        url, fragment = urldefrag(urljoin(served_url, ref))
        if url not in fetched:
            response = httpx.get(url, timeout=10)
            fetched[url] = response.json() if response.status_code == 200 else None
        try:
            assert fetched[url] is not None
            _pointer(fetched[url], fragment)
        except (AssertionError, KeyError, IndexError, ValueError):
            unresolved.append(ref)
    print(
        f"\nserved AsyncAPI: valid against AsyncAPI 3.0.0; {len(refs)} distinct $refs, "
        f"{len(refs) - len(unresolved)} resolved over HTTP"
    )
    assert refs and unresolved == []
