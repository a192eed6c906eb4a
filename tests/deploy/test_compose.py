"""The root docker-compose.yml validates against the Compose specification (`compose-spec`).

There is no Docker engine on these machines: the file is checked statically. `compose-spec`
does not resolve YAML merge keys (`<<: *env`), which Docker Compose does, so the file is loaded
with PyYAML first (merges resolved, as Compose would) and the result is validated.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose
from echo_attendance.settings import DEV_EVALUATION_SECRET, AttendanceSettings
from echo_notifications.settings import NotificationsSettings
from echo_scheduling.settings import DEV_LIBRARY_SECRET, SchedulingSettings

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
DOCKERFILE = COMPOSE_FILE.parent / "Dockerfile"
SERVICES = ("scheduling", "cases", "attendance", "notifications", "reporting")
LIBRARY_DIR = "/var/lib/echo/library"
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+):-([^}]*)\}")


def _load() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def _validate(data: dict[str, Any]) -> PyCompose:
    """Validated as Compose reads it with no variable set (`${X:-default}` interpolated)."""
    return PyCompose.from_yaml(_defaults(yaml.safe_dump(data)))


def _defaults(value: str) -> str:
    """`value` as Compose interpolates it when no variable is set (`${X:-d}` -> `d`)."""
    return _VARIABLE.sub(lambda m: m.group(2), value)


def _published(service: str) -> str:
    """The host port a service is published on by default (`${X:-8101}:8000` -> `8101`)."""
    ports = _load()["services"][service]["ports"]
    assert len(ports) == 1
    return _defaults(str(ports[0])).split(":")[0]


def _image_user() -> str:
    """The `USER uid:gid` the Dockerfile's final stage runs as."""
    users = re.findall(r"^USER\s+(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert users, "the Dockerfile should run as a non-root USER"
    return str(users[-1])


def test_compose_file_validates_against_the_spec() -> None:
    compose = _validate(_load())
    names = set(compose.service_names())
    assert set(SERVICES) <= names
    assert {"nats", "postgres", "streams", "otel-collector", "jaeger"} <= names
    assert "scheduling-library-init" in names
    assert {f"{s}-migrate" for s in SERVICES} <= names
    assert "console" in names  # the web console: no database, no NATS of its own
    assert len(names) == 17


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_hardened_healthchecked_and_waits_for_its_dependencies(
    service: str,
) -> None:
    block = _validate(_load()).to_dict()["services"][service]
    assert block["read_only"] is True
    assert block["cap_drop"] == ["ALL"]
    assert "/readyz" in " ".join(block["healthcheck"]["test"])
    conditions = {name: dep["condition"] for name, dep in block["depends_on"].items()}
    assert conditions["postgres"] == "service_healthy"
    assert conditions["nats"] == "service_healthy"
    assert conditions["streams"] == "service_completed_successfully"
    # the migration one-shot migrates; the service only checks the schema at start
    assert conditions[f"{service}-migrate"] == "service_completed_successfully"
    env = block["environment"]
    assert env[f"{service.upper()}_AUTO_MIGRATE"] == "false"
    prefix = service.upper() + "_"
    for key in ("REGIONS", "DATABASE_URL", "NATS_URL"):
        assert prefix + key in env


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("services", "cases", "restart"), "sometimes", "restart"),
        (("services", "cases", "helthcheck"), {}, "helthcheck"),
        (("services", "postgres", "healthcheck", "interval"), "soon", "interval"),
    ],
)
def test_a_broken_compose_file_is_rejected(
    path: tuple[str, ...], value: object, message: str
) -> None:
    data = copy.deepcopy(_load())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError, match=message):
        _validate(data)


def test_the_library_lives_on_a_named_volume_the_service_user_may_write() -> None:
    data = _load()
    scheduling = _validate(data).to_dict()["services"]["scheduling"]
    env = scheduling["environment"]
    assert env["SCHEDULING_LIBRARY_STORAGE"] == "local"
    assert env["SCHEDULING_LIBRARY_DIR"] == LIBRARY_DIR
    # the root filesystem stays read-only: only the volume is writable
    assert scheduling["read_only"] is True
    mounts = {v.split(":")[1]: v.split(":")[0] for v in data["services"]["scheduling"]["volumes"]}
    volume = mounts[LIBRARY_DIR]
    assert volume in data["volumes"]  # a named volume, not a bind mount or the container layer
    # a fresh named volume belongs to root; the image runs as a non-root user: a one-shot
    # service hands the volume to that user before scheduling starts
    init = data["services"]["scheduling-library-init"]
    assert init["volumes"] == [f"{volume}:{LIBRARY_DIR}"]
    assert init["command"] == ["chown", _image_user(), LIBRARY_DIR]
    assert _image_user().split(":")[0] != "0"
    assert init["cap_drop"] == ["ALL"] and init["cap_add"] == ["CHOWN"]
    assert init["restart"] == "no"
    assert scheduling["depends_on"]["scheduling-library-init"] == {
        "condition": "service_completed_successfully"
    }
    # ...and scheduling still waits for everything the other services wait for
    assert scheduling["depends_on"]["streams"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize(
    ("service", "variable", "development_default"),
    [
        ("scheduling", "SCHEDULING_LIBRARY_SIGNING_SECRET", DEV_LIBRARY_SECRET),
        ("attendance", "ATTENDANCE_EVALUATION_SECRET", DEV_EVALUATION_SECRET),
    ],
)
def test_link_secrets_come_from_the_environment_with_a_default_production_refuses(
    service: str, variable: str, development_default: str
) -> None:
    value = _load()["services"][service]["environment"][variable]
    assert value == f"${{{variable}:-{development_default}}}"


def test_links_in_emails_point_at_the_published_ports_and_the_settings_accept_them() -> None:
    services = _load()["services"]
    scheduling = {k: _defaults(str(v)) for k, v in services["scheduling"]["environment"].items()}
    attendance = {k: _defaults(str(v)) for k, v in services["attendance"]["environment"].items()}
    notifications = {
        k: _defaults(str(v)) for k, v in services["notifications"]["environment"].items()
    }
    scheduling_url = f"http://localhost:{_published('scheduling')}"
    assert scheduling["SCHEDULING_PUBLIC_URL"] == scheduling_url
    assert (
        attendance["ATTENDANCE_PUBLIC_BASE_URL"] == f"http://localhost:{_published('attendance')}"
    )
    library_url = notifications["NOTIFICATIONS_LIBRARY_URL"]
    assert library_url == f"{scheduling_url}/v1/programmes/{{programme_id}}/materials"
    # the notifications link follows scheduling's public URL when the operator overrides it
    raw = services["notifications"]["environment"]["NOTIFICATIONS_LIBRARY_URL"]
    assert raw.startswith(services["scheduling"]["environment"]["SCHEDULING_PUBLIC_URL"])

    # each service starts with these values (development mode, as compose runs it)
    made = SchedulingSettings(
        library_storage=scheduling["SCHEDULING_LIBRARY_STORAGE"],
        library_dir=scheduling["SCHEDULING_LIBRARY_DIR"],
        library_signing_secret=scheduling["SCHEDULING_LIBRARY_SIGNING_SECRET"],
        public_url=scheduling["SCHEDULING_PUBLIC_URL"],
    )
    assert str(made.library_dir) == LIBRARY_DIR
    assert made.library_public_url == scheduling_url
    evaluation = AttendanceSettings(
        evaluation_secret=attendance["ATTENDANCE_EVALUATION_SECRET"],
        public_base_url=attendance["ATTENDANCE_PUBLIC_BASE_URL"],
    )
    assert evaluation.public_base_url.endswith(":8103")
    notifying = NotificationsSettings(library_url=library_url)
    assert notifying.library_url.format(
        programme_id="p-1", region="ontario", material_id="m", session_id="s"
    ) == (f"{scheduling_url}/v1/programmes/p-1/materials")


def test_every_named_volume_a_service_mounts_is_declared() -> None:
    data = _load()
    declared = set(data["volumes"])
    used = {
        volume.split(":")[0]
        for block in data["services"].values()
        for volume in block.get("volumes", [])
        if not volume.startswith((".", "/"))
    }
    assert used == declared
    assert "scheduling-library" in used
