"""Every kustomize overlay renders offline and is valid against the Kubernetes API schemas.

`kubectl kustomize` renders; `kubernetes-validate --strict` rejects unknown fields and wrong
types. On top of the schemas, the properties the platform relies on are checked on the rendered
objects: hardened pods, probes, resources, policies, and NATS given every variable its config
references.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from echo_runtime.settings import ServiceSettings
from pydantic import ValidationError

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
#: kubectl renders kustomize offline; the machines have it at /usr/bin/kubectl
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
VALIDATOR = Path(sys.executable).parent / "kubernetes-validate"
KUBERNETES_VERSION = "1.32.0"  # the kubectl here is 1.32
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
REGIONS = ("northern-ireland", "ontario", "shanghai")
SERVICES = ("scheduling", "cases", "attendance", "notifications", "reporting")
#: Variables the base StatefulSet sets for every NATS server.
BASE_NATS_VARS = {
    "NATS_SERVER_NAME",
    "NATS_HOST",
    "NATS_PORT",
    "NATS_HTTP_PORT",
    "NATS_CLUSTER_PORT",
    "NATS_LEAF_PORT",
    "NATS_STORE_DIR",
    "NATS_MAX_FILE_STORE",
    "NATS_TLS_CERT",
    "NATS_TLS_KEY",
    "NATS_TLS_CA",
    "NATS_SYS_PASSWORD",
}

Doc = dict[str, Any]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("echo_k8s_generate", K8S / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def render(directory: Path) -> str:
    assert Path(KUBECTL).exists(), "kubectl is needed to render kustomize (install kubectl)"
    result = subprocess.run(
        [KUBECTL, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VALIDATOR), "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def docs(text: str) -> list[Doc]:
    return [d for d in yaml.safe_load_all(text) if d]


def kinds(objects: list[Doc]) -> Counter[str]:
    return Counter(d["kind"] for d in objects)


def pod_specs(objects: list[Doc]) -> list[tuple[str, Doc]]:
    found = []
    for d in objects:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            found.append((f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]))
    return found


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[Doc]]]:
    out = tmp_path_factory.mktemp("kustomize")
    result = {}
    for overlay in OVERLAYS:
        text = render(K8S / "overlays" / overlay)
        path = out / f"{overlay}.yaml"
        path.write_text(text)
        result[overlay] = (path, docs(text))
    return result


def test_there_is_an_overlay_per_region_and_one_for_the_superhub() -> None:
    # and the explicit single-server option for a small hub (ontario on one NATS server)
    assert sorted([*REGIONS, "superhub", "small-hub"]) == OVERLAYS


def test_checked_in_manifests_match_the_generator() -> None:
    files: dict[Path, str] = _generator().rendered_files()
    stale = [str(p.relative_to(K8S)) for p, text in files.items() if p.read_text() != text]
    assert stale == [], f"run `.venv/bin/python deploy/k8s/generate.py`: {stale} are stale"
    assert len(files) == 17 + 3 * len(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_is_valid_against_the_kubernetes_schemas(
    overlay: str, rendered: dict[str, tuple[Path, list[Doc]]]
) -> None:
    path, objects = rendered[overlay]
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    # a migration Job and its NetworkPolicy per service
    assert len(objects) == (27 if overlay == "superhub" else 51)
    jobs = {o["metadata"]["name"] for o in objects if o["kind"] == "Job"}
    deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    services = {d for d in deployments if d != "echo-nats"}
    assert {f"{d}-migrate" for d in services} <= jobs


def test_the_validator_rejects_an_unknown_field(
    rendered: dict[str, tuple[Path, list[Doc]]], tmp_path: Path
) -> None:
    _, objects = rendered["ontario"]
    broken = [dict(d) for d in objects]
    deployment = next(d for d in broken if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container["readinessProbe"]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all(broken))
    result = validate(path)
    assert result.returncode != 0
    assert "readinesProbe" in result.stdout + result.stderr


@pytest.mark.parametrize("region", REGIONS)
def test_a_region_runs_five_services_its_leaf_and_the_stream_job(
    region: str, rendered: dict[str, tuple[Path, list[Doc]]]
) -> None:
    _, objects = rendered[region]
    counts = kinds(objects)
    assert counts["Deployment"] == 5
    assert counts["HorizontalPodAutoscaler"] == 5
    assert counts["PodDisruptionBudget"] == 6
    # deny-all + 5 services + 5 migration Jobs + NATS + stream Job
    assert counts["NetworkPolicy"] == 13
    assert counts["StatefulSet"] == 1
    assert counts["Job"] == 6  # the streams and one migration Job per service
    assert counts["Secret"] == 0
    assert {d["metadata"].get("namespace") for d in objects} == {f"echo-{region}"}
    config = next(d for d in objects if d["metadata"]["name"] == "echo-platform")
    assert config["data"]["REGIONS"] == region
    # a region's bus is a three-server JetStream cluster, its streams R3
    nats = next(d for d in objects if d["kind"] == "StatefulSet")
    assert nats["spec"]["replicas"] == 3
    env = {e["name"]: e for e in nats["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert [env[f"NATS_ROUTE_{i}"]["value"].split("@")[1] for i in (1, 2, 3)] == [
        f"echo-nats-{i}.echo-nats-cluster:6222" for i in range(3)
    ]
    config = next(d for d in objects if d["metadata"]["name"].startswith("echo-nats-config"))
    assert f"name: echo-{region}" in config["data"]["nats.conf"]
    assert "sync_interval: always" in config["data"]["nats.conf"]
    streams = next(d for d in objects if d["metadata"]["name"] == "echo-streams")
    assert streams["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == ["--replicas", "3"]
    migrations = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]
        for d in objects
        if d["kind"] == "Job" and d["metadata"]["name"].endswith("-migrate")
    }
    for name, container in migrations.items():
        service = name.removeprefix("echo-").removesuffix("-migrate")
        assert container["command"] == ["python", "-m", f"echo_{service}", "migrate"]
        assert f"{service.upper()}_DATABASE_URL" in {e["name"] for e in container["env"]}
    job = next(d for d in objects if d["metadata"]["name"] == "echo-streams")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "echo-hub",
        "streams",
        "apply",
    ]


def test_the_small_hub_option_runs_one_server_and_r1_streams(
    rendered: dict[str, tuple[Path, list[Doc]]],
) -> None:
    _, objects = rendered["small-hub"]
    nats = next(d for d in objects if d["kind"] == "StatefulSet")
    assert nats["spec"]["replicas"] == 1
    assert {d["metadata"].get("namespace") for d in objects} == {"echo-ontario"}
    config = next(d for d in objects if d["metadata"]["name"].startswith("echo-nats-config"))
    assert "cluster {" not in config["data"]["nats.conf"]
    streams = next(d for d in objects if d["metadata"]["name"] == "echo-streams")
    assert "--replicas" not in streams["spec"]["template"]["spec"]["containers"][0]["args"]


def test_the_superhub_runs_a_three_server_cluster(
    rendered: dict[str, tuple[Path, list[Doc]]],
) -> None:
    _, objects = rendered["superhub"]
    nats = next(d for d in objects if d["kind"] == "StatefulSet")
    assert nats["spec"]["replicas"] == 3
    env = {e["name"]: e for e in nats["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert [env[f"NATS_ROUTE_{i}"]["value"].split("@")[1] for i in (1, 2, 3)] == [
        f"echo-nats-{i}.echo-nats-cluster:6222" for i in range(3)
    ]
    names = [e["name"] for e in nats["spec"]["template"]["spec"]["containers"][0]["env"]]
    # Kubernetes expands $(NATS_ROUTE_PASSWORD) only if it is defined earlier in the list
    assert names.index("NATS_ROUTE_PASSWORD") < names.index("NATS_ROUTE_1")
    deployments = sorted(d["metadata"]["name"] for d in objects if d["kind"] == "Deployment")
    assert deployments == ["echo-reporting", "echo-scheduling"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_gets_every_variable_its_config_references(
    overlay: str, rendered: dict[str, tuple[Path, list[Doc]]]
) -> None:
    _, objects = rendered[overlay]
    config_map = next(d for d in objects if d["metadata"]["name"].startswith("echo-nats-config-"))
    config = config_map["data"]["nats.conf"]
    assert config == (K8S / "overlays" / overlay / "nats.conf").read_text()
    code = re.sub(r'"[^"]*"', "", re.sub(r"#.*", "", config))  # not in strings or comments
    referenced = set(re.findall(r"\$([A-Z][A-Z0-9_]+)", code))
    assert len(referenced) >= 14
    nats = next(d for d in objects if d["kind"] == "StatefulSet")
    spec = nats["spec"]["template"]["spec"]
    provided = {e["name"] for e in spec["containers"][0]["env"]}
    assert referenced - provided == set()
    assert provided >= BASE_NATS_VARS
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_hardened_and_bounded(
    overlay: str, rendered: dict[str, tuple[Path, list[Doc]]]
) -> None:
    _, objects = rendered[overlay]
    specs = pod_specs(objects)
    assert len(specs) == (6 if overlay == "superhub" else 12)  # with the migration Jobs
    for name, spec in specs:
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_probe_ready_and_healthy_and_have_their_own_policy(
    overlay: str, rendered: dict[str, tuple[Path, list[Doc]]]
) -> None:
    _, objects = rendered[overlay]
    deployments = [d for d in objects if d["kind"] == "Deployment"]
    policies = {d["metadata"]["name"]: d for d in objects if d["kind"] == "NetworkPolicy"}
    deny = policies["default-deny-all"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        service = name.removeprefix("echo-")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        env = {e["name"]: e for e in container["env"]}
        prefix = service.upper() + "_"
        assert env[prefix + "NATS_USER"]["value"] == service
        assert env[prefix + "NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == service
        assert "secretKeyRef" in env[prefix + "DATABASE_URL"]["valueFrom"]
        allow = policies[f"{name}-allow"]["spec"]
        assert allow["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
        assert allow["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]
        hpa = next(
            d
            for d in objects
            if d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == name
        )
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        assert hpa["spec"]["minReplicas"] >= 2


def _container_env(objects: list[Doc], service: str) -> list[Doc]:
    deployment = next(
        d
        for d in objects
        if d["kind"] == "Deployment" and d["metadata"]["name"] == f"echo-{service}"
    )
    env: list[Doc] = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


def _platform(objects: list[Doc]) -> dict[str, str]:
    config = next(d for d in objects if d["metadata"]["name"] == "echo-platform")
    data: dict[str, str] = config["data"]
    return data


def _secret_placeholder(variable: str, name: str, key: str) -> str:
    """What an operator puts in a secret: long random strings (JSON for webhook secrets)."""
    value = f"operator-supplied-{name}-{key}-0123456789abcdef"
    if variable.endswith("_WEBHOOK_SECRETS"):
        return json.dumps({"zoom": value, "generic": value})
    if variable.endswith("_SMTP_PORT"):
        return "587"
    if variable.endswith(("_SMTP_STARTTLS", "_SMTP_TLS")):
        return "true" if variable.endswith("STARTTLS") else "false"
    return value


def pod_environment(entries: list[Doc], config: dict[str, str]) -> dict[str, str]:
    """The environment the kubelet gives the container: ConfigMap values looked up, secrets
    filled with placeholders (optional keys left out, the operator may omit them) and
    `$(VAR)` expanded from earlier entries only, as Kubernetes does."""
    environment: dict[str, str] = {}
    for entry in entries:
        if "value" in entry:
            value = re.sub(
                r"\$\(([A-Z0-9_]+)\)",
                lambda m: environment.get(m.group(1), m.group(0)),
                entry["value"],
            )
        elif "configMapKeyRef" in entry["valueFrom"]:
            ref = entry["valueFrom"]["configMapKeyRef"]
            assert ref["name"] == "echo-platform", entry
            value = config[ref["key"]]
        elif "secretKeyRef" in entry["valueFrom"]:
            ref = entry["valueFrom"]["secretKeyRef"]
            if ref.get("optional"):
                continue
            value = _secret_placeholder(entry["name"], ref["name"], ref["key"])
        else:
            continue  # fieldRef: not a setting
        environment[entry["name"]] = value
    return environment


def start_settings(
    service: str, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> ServiceSettings:
    """The service's settings class read from exactly `environment` (as the pod starts it)."""
    prefix = service.upper() + "_"
    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(prefix)]:
            patch.delenv(name)
        for name, value in environment.items():
            patch.setenv(name, value)
        module = importlib.import_module(f"echo_{service}.settings")
        settings = getattr(module, f"{service.capitalize()}Settings")()
        assert isinstance(settings, ServiceSettings)
        return settings


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_starts_in_production_with_the_rendered_environment(
    overlay: str, rendered: dict[str, tuple[Path, list[Doc]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production refuses development secrets and an unshared library signing secret: the
    manifests must give each service what it needs, or its pods crash-loop."""
    _, objects = rendered[overlay]
    config = _platform(objects)
    assert config["ENVIRONMENT"] == "production"
    started = []
    for deployment in (d for d in objects if d["kind"] == "Deployment"):
        service = deployment["metadata"]["name"].removeprefix("echo-")
        environment = pod_environment(_container_env(objects, service), config)
        settings = start_settings(service, environment, monkeypatch)
        assert settings.environment == "production"
        started.append(service)
    assert len(started) == (2 if overlay == "superhub" else 5)


@pytest.mark.parametrize(
    ("service", "dropped", "message"),
    [
        # without s3 the library falls back to the local store: no shared secret, no start
        ("scheduling", "SCHEDULING_LIBRARY_STORAGE", "SCHEDULING_LIBRARY_SIGNING_SECRET"),
        ("attendance", "ATTENDANCE_EVALUATION_SECRET", "ATTENDANCE_EVALUATION_SECRET"),
        ("notifications", "NOTIFICATIONS_WEBHOOK_SECRET", "NOTIFICATIONS_WEBHOOK_SECRET"),
    ],
)
def test_a_service_missing_its_secret_refuses_to_start(
    service: str,
    dropped: str,
    message: str,
    rendered: dict[str, tuple[Path, list[Doc]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, objects = rendered["ontario"]
    entries = [e for e in _container_env(objects, service) if e["name"] != dropped]
    assert len(entries) == len(_container_env(objects, service)) - 1
    environment = pod_environment(entries, _platform(objects))
    with pytest.raises(ValidationError, match=message):
        start_settings(service, environment, monkeypatch)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_library_is_in_s3_with_bucket_and_credentials_from_a_secret(
    overlay: str, rendered: dict[str, tuple[Path, list[Doc]]]
) -> None:
    _, objects = rendered[overlay]
    env = {e["name"]: e for e in _container_env(objects, "scheduling")}
    assert env["SCHEDULING_LIBRARY_STORAGE"]["value"] == "s3"
    required = {"SCHEDULING_LIBRARY_S3_BUCKET": "bucket", "SCHEDULING_LIBRARY_S3_REGION": "region"}
    optional = {
        "SCHEDULING_LIBRARY_S3_ENDPOINT": "endpoint",
        "SCHEDULING_LIBRARY_S3_ACCESS_KEY_ID": "access-key-id",
        "SCHEDULING_LIBRARY_S3_SECRET_ACCESS_KEY": "secret-access-key",
    }
    for variable, key in {**required, **optional}.items():
        ref = env[variable]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == ("echo-scheduling-s3", key), variable
        assert ref.get("optional", False) is (variable in optional), variable
    # no plaintext secret, and no signing secret needed (presigned links verify at the bucket)
    assert not any("value" in e for n, e in env.items() if "SECRET" in n or "KEY" in n)
    assert "SCHEDULING_LIBRARY_SIGNING_SECRET" not in env
    config = _platform(objects)
    region = "ontario" if overlay == "small-hub" else overlay
    assert config["SCHEDULING_PUBLIC_URL"] == f"https://scheduling.{region}.echo.example.org"
    # the bucket is reached over HTTPS: the scheduling pods may open 443 (deny-all otherwise)
    policy = next(d for d in objects if d["metadata"]["name"] == "echo-scheduling-allow")["spec"]
    assert "Egress" in policy["policyTypes"]
    assert {"ports": [{"protocol": "TCP", "port": 443}]} in policy["egress"]


@pytest.mark.parametrize("region", REGIONS)
def test_evaluation_and_library_links_name_the_region_s_own_hosts(
    region: str, rendered: dict[str, tuple[Path, list[Doc]]]
) -> None:
    _, objects = rendered[region]
    config = _platform(objects)
    attendance = {e["name"]: e for e in _container_env(objects, "attendance")}
    ref = attendance["ATTENDANCE_EVALUATION_SECRET"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) == ("echo-attendance-signing", "evaluation")
    assert "optional" not in ref
    environment = pod_environment(_container_env(objects, "attendance"), config)
    assert environment["ATTENDANCE_PUBLIC_BASE_URL"] == (
        f"https://attendance.{region}.echo.example.org"
    )
    notifications = pod_environment(_container_env(objects, "notifications"), config)
    smtp = {e["name"]: e for e in _container_env(objects, "notifications")}
    for key in ("HOST", "PORT"):  # mail goes to the region's relay, never the dev default
        ref = smtp[f"NOTIFICATIONS_SMTP_{key}"]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "echo-notifications-smtp" and "optional" not in ref
    assert notifications["NOTIFICATIONS_LIBRARY_URL"] == (
        f"https://scheduling.{region}.echo.example.org/v1/programmes/{{programme_id}}/materials"
    )
    # every region has its own hosts
    others = [r for r in REGIONS if r != region]
    assert not any(other in environment["ATTENDANCE_PUBLIC_BASE_URL"] for other in others)
