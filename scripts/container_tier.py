"""The container tier: every image built and the compose stack run in podman, checked as a user
would.

Run through `scripts/container-tier` (it installs the engine and writes containers.conf first).
Steps: the Python base image (the registry's when reachable, else one made from Debian packages
with mmdebstrap, cached), every service image and the NATS / PostgreSQL stand-ins, the stack up
in start order (podman-compose ignores `service_healthy` and trips over one-shots in `depends_on`
chains, podman-compose #921: the one-shots run explicitly, then the services with --no-deps),
every service ready, one scenario through the HTTP APIs with exact report numbers, a container
killed and restarted with nothing lost, `down` and `up` with the data kept on the volumes, the
hardening checked inside a running container, image sizes. Prints `N passed, N failed` last and
exits non-zero on any failure.

Environment (all optional): PYTHON_IMAGE, ECHO_IMAGE_PREFIX, ECHO_IMAGE_TAG, NATS_IMAGE,
POSTGRES_IMAGE, NATS_SERVER_VERSION, <SERVICE>_HOST_PORT and NATS_HOST_PORT (free ports are
picked otherwise), ECHO_TIER_PROJECT (compose project name), ECHO_TIER_KEEP=1 (leave the stack
up), ECHO_CONTAINER_STATE (cache directory), CA_BUNDLE (extra certificate authorities for
HTTPS inside builds; default SSL_CERT_FILE).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from echo_attendance.domain.webhooks import sign
from echo_attendance.settings import DEV_WEBHOOK_SECRET
from echo_runtime.auth import mint_dev_token
from echo_runtime.settings import DEV_SECRET

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("scheduling", "cases", "attendance", "notifications", "reporting")
STATE = Path(os.environ.get("ECHO_CONTAINER_STATE", Path.home() / ".cache/echo-container-tier"))
PYTHON_IMAGE = os.environ.get("PYTHON_IMAGE", "python:3.11-slim-bookworm")
PREFIX = os.environ.get("ECHO_IMAGE_PREFIX", "localhost/echo-network")
TAG = os.environ.get("ECHO_IMAGE_TAG", "dev")
NATS_SERVER_VERSION = os.environ.get("NATS_SERVER_VERSION", "2.15.1")
NATS_IMAGE = os.environ.get("NATS_IMAGE", f"{PREFIX}/nats:{NATS_SERVER_VERSION}")
POSTGRES_IMAGE = os.environ.get("POSTGRES_IMAGE", f"{PREFIX}/postgres:15")
PROJECT = os.environ.get("ECHO_TIER_PROJECT", "echo-tier")
COMPOSE = os.environ.get("PODMAN_COMPOSE", "podman-compose")
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates"
#: Documentation, manual pages and translations are left out of the base (dpkg path-exclude).
EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*")
REGION = "ontario"


class Tier:
    """Counts checks; a failed check is printed at once and counted, the run goes on."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []
        self.started = time.monotonic()

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"  ok    {name}" + (f" ({detail})" if detail else ""), flush=True)
        else:
            self.failed.append(name)
            print(f"  FAIL  {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def step(self, title: str) -> None:
        print(f"== {title} [{time.monotonic() - self.started:.0f}s]", flush=True)


def run(
    *args: str, check: bool = True, capture: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed commands of this script
        list(args),
        check=check,
        text=True,
        capture_output=capture,
        env=env,
        cwd=ROOT,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: Callable[[], Any], timeout: float = 180.0, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = what()
        except (httpx.HTTPError, OSError, KeyError, ValueError):
            last = None
        if last:
            return last
        time.sleep(interval)
    return last


def image_exists(name: str) -> bool:
    return run("podman", "image", "exists", name, check=False).returncode == 0


def registry_reachable() -> bool:
    try:
        answer = httpx.get("https://registry-1.docker.io/v2/", timeout=5)
    except httpx.HTTPError:
        return False
    return answer.status_code in (200, 401)


def base_image(tier: Tier) -> None:
    """The Python base: present, pulled from the registry, or made from Debian packages."""
    if image_exists(PYTHON_IMAGE):
        tier.check("python base image", True, f"{PYTHON_IMAGE} already in the image store")
        return
    if registry_reachable() and run("podman", "pull", PYTHON_IMAGE, check=False).returncode == 0:
        tier.check("python base image", True, f"{PYTHON_IMAGE} pulled from the registry")
        return
    rootfs = STATE / "base-rootfs.tar"
    if not rootfs.exists():
        print(f"  no registry: building {PYTHON_IMAGE} from Debian packages (mmdebstrap)")
        partial = rootfs.with_name("base-rootfs.partial.tar")  # the suffix names the format
        run(
            "mmdebstrap",
            "--variant=minbase",
            f"--include={BASE_PACKAGES}",
            *(f"--dpkgopt=path-exclude={path}" for path in EXCLUDES),
            '--customize-hook=rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED;'
            ' rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*',
            "bookworm",
            str(partial),
            DEBIAN_MIRROR,
        )
        partial.rename(rootfs)
    run("podman", "import", "--change", 'CMD ["python3"]', str(rootfs), PYTHON_IMAGE)
    tier.check("python base image", image_exists(PYTHON_IMAGE), f"{PYTHON_IMAGE} from {rootfs}")


def build(tier: Tier, tag: str, dockerfile: str, context: Path, args: dict[str, str]) -> None:
    command = [
        "podman", "build", "--format", "docker", "--network", "host", "--layers",
        "-f", dockerfile, "-t", tag, "--build-arg", f"PYTHON_IMAGE={PYTHON_IMAGE}",
    ]  # fmt: skip
    for key, value in args.items():
        command += ["--build-arg", f"{key}={value}"]
    ca = os.environ.get("CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if ca and Path(ca).is_file():
        command += ["--secret", f"id=ca,src={ca}"]
    result = subprocess.run([*command, str(context)], check=False, cwd=ROOT)  # noqa: S603
    tier.check(f"image {tag} built", result.returncode == 0 and image_exists(tag))


def images(tier: Tier) -> None:
    tier.step("images")
    for service in SERVICES:
        build(tier, f"{PREFIX}/{service}:{TAG}", "Dockerfile", ROOT, {"SERVICE": service})
    standins = ROOT / "deploy/compose/standins"
    if "NATS_IMAGE" not in os.environ:
        build(
            tier,
            NATS_IMAGE,
            str(standins / "nats.Dockerfile"),
            standins,
            {"NATS_SERVER_VERSION": NATS_SERVER_VERSION},
        )
    if "POSTGRES_IMAGE" not in os.environ:
        build(tier, POSTGRES_IMAGE, str(standins / "postgres.Dockerfile"), standins, {})


class Stack:
    """The compose project, started in dependency order by hand (see the module docstring)."""

    def __init__(self) -> None:
        self.ports = {
            service: int(os.environ.get(f"{service.upper()}_HOST_PORT") or free_port())
            for service in (*SERVICES, "nats")
        }
        self.env = {
            **os.environ,
            "PYTHON_IMAGE": PYTHON_IMAGE,
            "ECHO_IMAGE_PREFIX": PREFIX,
            "ECHO_IMAGE_TAG": TAG,
            "NATS_IMAGE": NATS_IMAGE,
            "POSTGRES_IMAGE": POSTGRES_IMAGE,
            # no collector in the tier (its image is not built here): no span export
            "OTEL_TRACES_EXPORTER": os.environ.get("OTEL_TRACES_EXPORTER", "none"),
            **{f"{s.upper()}_HOST_PORT": str(p) for s, p in self.ports.items()},
        }
        self.env["SCHEDULING_PUBLIC_URL"] = f"http://localhost:{self.ports['scheduling']}"
        self.env["ATTENDANCE_PUBLIC_BASE_URL"] = f"http://localhost:{self.ports['attendance']}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def compose(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return run(COMPOSE, "-p", PROJECT, "-f", "docker-compose.yml", *args, check=check,
                   env=self.env)  # fmt: skip

    def container(self, service: str) -> str:
        return f"{PROJECT}_{service}_1"

    def healthy(self, service: str) -> bool:
        return run("podman", "healthcheck", "run", self.container(service), check=False,
                   capture=True).returncode == 0  # fmt: skip

    def one_shot(self, tier: Tier, service: str) -> None:
        self.compose("up", "--no-deps", "--no-start", service)
        run("podman", "rm", "-f", self.container(service), check=False, capture=True)
        result = self.compose("run", "--rm", "--no-deps", service)
        tier.check(f"one-shot {service} completed", result.returncode == 0,
                   f"exit {result.returncode}")  # fmt: skip

    def up(self, tier: Tier, label: str) -> None:
        tier.step(f"compose up ({label})")
        self.compose("up", "-d", "--no-deps", "postgres", "nats")
        for infra in ("postgres", "nats"):
            tier.check(
                f"{infra} healthy ({label})", bool(wait_for(lambda i=infra: self.healthy(i)))
            )
        for one_shot in ("streams", "scheduling-library-init", *(f"{s}-migrate" for s in SERVICES)):
            self.one_shot(tier, one_shot)
        self.compose("up", "-d", "--no-deps", *SERVICES)
        for service in SERVICES:
            self.ready(tier, service, label)

    def ready(self, tier: Tier, service: str, label: str) -> None:
        def answers() -> bool:
            return httpx.get(f"{self.url(service)}/readyz", timeout=3).status_code == 200

        ok = bool(wait_for(answers)) and self.healthy(service)
        if not ok:
            run("podman", "logs", "--tail", "30", self.container(service), check=False)
        tier.check(f"{service} ready and healthy ({label})", ok)


def headers(role: str, subject: str | None = None) -> dict[str, str]:
    jwt = mint_dev_token(DEV_SECRET, subject=subject, roles=[role], regions=[REGION])
    return {"authorization": f"Bearer {jwt}"}


def webhook(
    kind: str, session_id: str, at: datetime, join_token: str
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"type": kind, "session_id": session_id, "join_token": join_token,
                       "occurred_at": at.isoformat()}).encode()  # fmt: skip
    stamp = str(int(time.time()))
    return body, {"content-type": "application/json", "x-echo-timestamp": stamp,
                  "x-echo-signature": sign(DEV_WEBHOOK_SECRET, "v1", stamp, body)}  # fmt: skip


class Scenario:
    """Programme, participant, registration, case, attendance by signed webhook, report numbers."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = httpx.Client(timeout=30)
        self.admin = headers("hub-admin")
        self.programmes: list[str] = []
        self.expected = {"programmes": 0, "sessions_total": 0, "registrations": 0,
                         "cases_submitted": 0}  # fmt: skip

    def url(self, service: str, path: str) -> str:
        return self.stack.url(service) + path

    def programme(self, tier: Tier, sessions: int) -> str | None:
        # in the past: its sessions are held, so attendance counts in the report
        created = self.http.post(self.url("scheduling", "/v1/programmes"), headers=self.admin,
                                 json={"region": REGION, "title": f"Tier {uuid.uuid4().hex[:6]}",
                                       "timezone": "UTC", "local_start": "12:00",
                                       "starts_on": str(date.today() + timedelta(days=1)),
                                       "session_count": sessions})  # fmt: skip
        if not tier.check(
            "programme created (201)", created.status_code == 201, created.text[:200]
        ):
            return None
        self.expected["programmes"] += 1
        self.expected["sessions_total"] += sessions
        programme_id: str = created.json()["id"]
        self.programmes.append(programme_id)
        return programme_id

    def drive(self, tier: Tier) -> None:
        tier.step("scenario")
        bad = self.http.post(self.url("scheduling", "/v1/programmes"), headers=self.admin,
                             json={"region": REGION, "title": "x", "timezone": "Mars/Olympus",
                                   "starts_on": "2027-02-01", "local_start": "12:00"})  # fmt: skip
        tier.check("bad programme refused with a problem naming the field (422)",
                   bad.status_code == 422 and "timezone" in bad.text)  # fmt: skip
        programme_id = self.programme(tier, 3)
        if programme_id is None:
            return
        sessions = self.http.get(self.url("scheduling", f"/v1/programmes/{programme_id}/sessions"),
                                 headers=self.admin).json()["items"]  # fmt: skip
        tier.check("three sessions scheduled", len(sessions) == 3)
        known = wait_for(lambda: self.http.get(
            self.url("attendance", f"/v1/programmes/{programme_id}/credit-rule"),
            headers=self.admin).status_code == 200)  # fmt: skip
        tier.check("attendance learnt the programme from the event stream", bool(known))
        person = self.http.post(self.url("attendance", "/v1/participants"), headers=self.admin,
                                json={"region": REGION, "name": "Dr. Tier Test",
                                      "email": f"tier-{uuid.uuid4().hex[:8]}@example.org",
                                      "profession": "physician", "clinic": "Tier Clinic",
                                      "clinic_id": str(uuid.uuid4())})  # fmt: skip
        if not tier.check(
            "participant created (201)", person.status_code == 201, person.text[:200]
        ):
            return
        registered = self.http.post(
            self.url("attendance", f"/v1/programmes/{programme_id}/registrations"),
            headers=self.admin, json={"participant_id": person.json()["id"]})  # fmt: skip
        if tier.check("registration (201)", registered.status_code == 201, registered.text[:200]):
            self.expected["registrations"] += 1
        self.attend(tier, sessions[0], registered.json().get("join_token", ""))
        self.case(tier, programme_id, person.json()["id"])

    def attend(self, tier: Tier, session: dict[str, Any], join_token: str) -> None:
        start = datetime.fromisoformat(session["starts_at"]).astimezone(UTC)
        for kind, at in (("join", start), ("leave", start + timedelta(minutes=45))):
            body, signed = webhook(kind, session["id"], at, join_token)
            answer = self.http.post(self.url("attendance", "/v1/webhooks/video/generic"),
                                    content=body, headers=signed)  # fmt: skip
            tier.check(f"signed webhook '{kind}' accepted", answer.status_code == 200,
                       answer.text[:200])  # fmt: skip
        forged_body, forged = webhook("join", session["id"], start, join_token)
        forged["x-echo-signature"] = "v1=" + "0" * 64
        refused = self.http.post(self.url("attendance", "/v1/webhooks/video/generic"),
                                 content=forged_body, headers=forged)  # fmt: skip
        tier.check("forged webhook refused (401)", refused.status_code == 401)
        # the session is not held yet: the report counts no attendance (attendance has the record)

    def case(self, tier: Tier, programme_id: str, person_id: str) -> None:
        spoke = headers("spoke", subject=person_id)
        fields = {"presenting_question": "Which second-line agent?", "age_band": "50-59",
                  "sex": "male", "relevant_history": "Type 2 diabetes for twelve years.",
                  "medications": "Metformin 1000 mg BID.", "investigations": "HbA1c 9.1%.",
                  "what_was_tried": "Diet counselling.",
                  "specific_question": "SGLT2 inhibitor or GLP-1 agonist first?"}  # fmt: skip

        def submitted() -> httpx.Response | None:
            body = {"programme_id": programme_id, "fields": fields}
            answer = self.http.post(self.url("cases", "/v1/cases"), headers=spoke, json=body)
            return answer if answer.status_code == 201 else None

        answer = wait_for(submitted)
        if tier.check("case submitted by the registered spoke (201)", answer is not None):
            self.expected["cases_submitted"] += 1

    def report(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get(self.url("reporting", f"/v1/reports/regions/{REGION}"),
                                             headers=self.admin).json()  # fmt: skip
        totals: dict[str, Any] = body["totals"]
        return totals

    def report_matches(self, tier: Tier, label: str, timeout: float = 180.0) -> None:
        def exact() -> bool:
            totals = self.report()
            return all(totals[key] == value for key, value in self.expected.items())

        ok = bool(wait_for(exact, timeout=timeout))
        seen = {}
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            seen = {key: self.report()[key] for key in self.expected}
        tier.check(f"report numbers exact ({label})", ok, f"expected {self.expected}, saw {seen}")


def kill_and_restart(tier: Tier, stack: Stack, scenario: Scenario) -> None:
    tier.step("kill a container and restart it")
    container = stack.container("reporting")
    killed = run("podman", "kill", "--signal", "KILL", container, check=False, capture=True)
    tier.check("reporting killed (SIGKILL)", killed.returncode == 0, killed.stderr.strip())
    # events produced while reporting is down wait in its durable consumer
    scenario.programme(tier, 2)
    started = run("podman", "start", container, check=False, capture=True)
    tier.check("reporting started again", started.returncode == 0, started.stderr.strip())
    stack.ready(tier, "reporting", "after the kill")
    scenario.report_matches(tier, "after the kill: nothing lost, nothing counted twice")


def down_and_up(tier: Tier, stack: Stack, scenario: Scenario) -> None:
    tier.step("down and up: the data stays on the volumes")
    down = stack.compose("down")
    tier.check("compose down", down.returncode == 0)
    volumes = run("podman", "volume", "ls", "--format", "{{.Name}}", capture=True).stdout.split()
    tier.check("named volumes kept", all(f"{PROJECT}_{v}" in volumes
                                         for v in ("nats-data", "postgres-data")))  # fmt: skip
    stack.up(tier, "second start")
    listed = scenario.http.get(stack.url("scheduling") + "/v1/programmes",
                               headers=scenario.admin).json()  # fmt: skip
    ids = {item["id"] for item in listed.get("items", [])}
    tier.check("programmes survive down/up", set(scenario.programmes) <= ids,
               f"{len(ids)} listed")  # fmt: skip
    scenario.report_matches(tier, "after down/up")
    scenario.programme(tier, 1)
    scenario.report_matches(tier, "a new programme after down/up counted once")


def hardening(tier: Tier, stack: Stack) -> None:
    tier.step("hardening, inside a running container")
    for service in SERVICES:
        container = stack.container(service)
        probe = run("podman", "exec", container, "python", "-c",
                    "import os\nuid=os.getuid()\ntry:\n open('/app/probe','w')\n ro='writable'\n"
                    "except OSError:\n ro='read-only'\n"
                    "cap=[l.split()[1] for l in open('/proc/self/status')"
                    " if l.startswith('CapEff')][0]\nprint(uid, ro, cap)",
                    check=False, capture=True).stdout.split()  # fmt: skip
        ok = (
            len(probe) == 3
            and probe[0] != "0"
            and probe[1] == "read-only"
            and int(probe[2], 16) == 0
        )
        tier.check(f"{service}: non-root, read-only root filesystem, no capabilities", ok,
                   " ".join(probe))  # fmt: skip


def sizes(tier: Tier) -> None:
    tier.step("image sizes")
    names = [f"{PREFIX}/{s}:{TAG}" for s in SERVICES] + [NATS_IMAGE, POSTGRES_IMAGE, PYTHON_IMAGE]
    for name in names:
        size = run("podman", "image", "inspect", "--format", "{{.Size}}", name, check=False,
                   capture=True).stdout.strip()  # fmt: skip
        mb = int(size) / 1e6 if size.isdigit() else -1
        print(f"  {name:55s} {mb:8.1f} MB")
        if name.startswith(f"{PREFIX}/") and name.split("/")[-1].split(":")[0] in SERVICES:
            limit = float(os.environ.get("ECHO_IMAGE_MAX_MB", "400"))
            tier.check(f"{name} under {limit:.0f} MB", 0 < mb <= limit, f"{mb:.0f} MB")


def main() -> int:
    tier = Tier()
    for tool in ("podman", COMPOSE):
        if shutil.which(tool) is None:
            print(
                f"{tool} is missing: run ./scripts/container-tier (it installs it)", file=sys.stderr
            )
            return 1
    tier.step("python base image")
    try:
        base_image(tier)
    except subprocess.CalledProcessError as exc:
        tier.check("python base image", False, str(exc))
    images(tier)
    stack = Stack()
    scenario = Scenario(stack)
    try:
        if not tier.failed:
            stack.compose("down", "-v")
            stack.up(tier, "first start")
            scenario.drive(tier)
            scenario.report_matches(tier, "scenario")
            hardening(tier, stack)
            kill_and_restart(tier, stack, scenario)
            down_and_up(tier, stack, scenario)
        sizes(tier)
    finally:
        if os.environ.get("ECHO_TIER_KEEP") != "1":
            stack.compose("down", "-v")
    minutes = (time.monotonic() - tier.started) / 60
    print(f"== container tier: {minutes:.1f} min; failed: {', '.join(tier.failed) or 'none'}")
    print(f"{tier.passed} passed, {len(tier.failed)} failed")
    return 1 if tier.failed else 0


if __name__ == "__main__":
    sys.exit(main())
