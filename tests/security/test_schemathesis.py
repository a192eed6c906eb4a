"""schemathesis against every service's OpenAPI with a valid token: no 5xx, no schema violation.

Each service is served over HTTP on a real nats-server and SQLite; schemathesis generates requests
for every operation of the service's own `/openapi.json` (valid and invalid bodies, parameters)
with a network-admin token for every region, and checks that no answer is a server error and every
documented answer matches its response schema. Examples are bounded and derandomized (the same
cases every run).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from echo_runtime.natsserver import NatsServer
from echo_runtime.testing import token
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config._checks import PositiveDataAcceptanceConfig
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode

from tests.security.stack import SERVICES, Served, served_stack

pytestmark = pytest.mark.integration

EXAMPLES = 12  # per operation, valid and invalid cases together
ADMIN = token("network-admin", "*")
load_all_checks()
ALL_CHECKS = CHECKS.get_all()


@pytest.fixture(scope="module")
def stack(
    nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Served]]:
    # The rate limit has its own tests; here it would only hide routes behind 429s.
    with served_stack(
        nats_server.url, tmp_path_factory.mktemp("schemathesis"), rate_limits=False
    ) as running:
        yield running


def fuzz(served: Served) -> tuple[int, int, list[str]]:
    """Run every operation of the service's OpenAPI; (operations, cases, failures)."""
    spec = httpx.get(f"{served.url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(spec)
    # Every check runs. A schema-valid request may still break a rule no JSON Schema can say
    # (a region this deployment does not serve, an id unknown here, `to` before `from`): the
    # services answer those with a 422 naming the field, so 422 counts as accepting it.
    schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=[*PositiveDataAcceptanceConfig().expected_statuses, "422"]
    )
    operations = 0
    cases = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"invalid OpenAPI operation: {result.err()}")
            continue
        operation = result.ok()
        operations += 1

        # valid cases and invalid ones (out-of-range integers, wrong types, missing fields)
        @given(
            case=st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            )
        )
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            nonlocal cases
            cases += 1
            case.call_and_validate(
                base_url=served.url, headers=ADMIN, checks=ALL_CHECKS, timeout=30
            )

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return operations, cases, failures


@pytest.mark.parametrize("service", SERVICES)
def test_no_server_error_and_no_schema_violation(stack: dict[str, Served], service: str) -> None:
    operations, cases, failures = fuzz(stack[service])
    print(
        f"\nschemathesis {service}: {operations} operations, {cases} cases,"
        f" {len(failures)} failing operations"
    )
    assert operations >= 5 and cases >= operations
    assert not failures, "\n\n".join(failures)


OUT_OF_RANGE = (2**63, 2**31, -(2**63))


@pytest.mark.parametrize("service", SERVICES)
def test_every_integer_parameter_out_of_range_is_a_problem_not_a_server_error(
    stack: dict[str, Served], service: str
) -> None:
    """Each integer query parameter of each operation at int64 and int32 overflow: 4xx."""
    served = stack[service]
    spec = httpx.get(f"{served.url}/openapi.json", timeout=30).json()
    calls: list[str] = []
    wrong: list[str] = []
    with httpx.Client(base_url=served.url, headers=ADMIN, timeout=30) as http:
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                integers = [
                    p["name"]
                    for p in operation.get("parameters", [])
                    if p["in"] == "query"
                    and "integer"
                    in {p["schema"].get("type")}
                    | {s.get("type") for s in p["schema"].get("anyOf", [])}
                ]
                target = path
                for name in [p.strip("{}") for p in path.split("/") if p.startswith("{")]:
                    target = target.replace(f"{{{name}}}", str(uuid.uuid4()))
                for name in integers:
                    for value in OUT_OF_RANGE:
                        answer = http.request(method.upper(), target, params={name: str(value)})
                        calls.append(f"{method.upper()} {path}?{name}={value}")
                        problem = answer.headers.get("content-type") == "application/problem+json"
                        if answer.status_code >= 500 or answer.is_success or not problem:
                            wrong.append(f"{calls[-1]}: {answer.status_code} {answer.text[:200]}")
    print(f"\nout-of-range integers {service}: {len(calls)} calls, {len(wrong)} wrong")
    assert calls, "no integer parameter found: the OpenAPI changed"
    assert not wrong, "\n".join(wrong)


NON_ASCII_NAMES = ("糖尿病讲义.txt", "Ōtautahi hui.txt", "نشرة السكري.txt", "당뇨병 안내.txt")


def test_non_ascii_multipart_file_names_are_stored_and_served_back(
    stack: dict[str, Served],
) -> None:
    base = stack["scheduling"].url
    with httpx.Client(base_url=base, headers=ADMIN, timeout=30) as http:
        programme = http.post(
            "/v1/programmes",
            json={
                "region": "shanghai",
                "title": "糖尿病 ECHO",
                "timezone": "Asia/Shanghai",
                "starts_on": "2027-03-01",
                "local_start": "12:00",
                "session_count": 2,
            },
        )
        assert programme.status_code == 201, programme.text
        spec = http.get("/openapi.json").json()
        documented = spec["components"]["schemas"]["MaterialOut"]["properties"]
        for name in NON_ASCII_NAMES:
            up = http.post(
                f"/v1/programmes/{programme.json()['id']}/materials",
                data={"kind": "document", "title": "讲义", "language": "zh-Hans"},
                files={"file": (name, b"handout\n", "text/plain")},
            )
            assert up.status_code == 201, (name, up.text)
            assert set(up.json()) <= set(documented) and up.json()["filename"] == name
            link = http.get(f"/v1/materials/{up.json()['id']}/download")
            got = http.get(link.headers["location"]) if link.is_redirect else link
            assert got.status_code == 200, got.text
            assert "filename*=UTF-8''" in got.headers["content-disposition"]
