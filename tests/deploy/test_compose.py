"""The root docker-compose.yml validates against the Compose specification (`compose-spec`).

There is no Docker engine on these machines: the file is checked statically. `compose-spec`
does not resolve YAML merge keys (`<<: *env`), which Docker Compose does, so the file is loaded
with PyYAML first (merges resolved, as Compose would) and the result is validated.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
SERVICES = ("scheduling", "cases", "attendance", "notifications", "reporting")


def _load() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def _validate(data: dict[str, Any]) -> PyCompose:
    return PyCompose.from_yaml(yaml.safe_dump(data))


def test_compose_file_validates_against_the_spec() -> None:
    compose = _validate(_load())
    names = set(compose.service_names())
    assert set(SERVICES) <= names
    assert {"nats", "postgres", "streams", "otel-collector", "jaeger"} <= names
    assert len(names) == 10


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
    env = block["environment"]
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
