"""schemathesis against every service's OpenAPI with a valid token: no 5xx, no schema violation.

Each service is served over HTTP on a real nats-server and SQLite; schemathesis generates requests
for every operation of the service's own `/openapi.json` (valid and invalid bodies, parameters)
with a network-admin token for every region, and checks that no answer is a server error and every
documented answer matches its response schema. Examples are bounded and derandomized (the same
cases every run).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from echo_runtime.natsserver import NatsServer
from echo_runtime.testing import token
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.security.stack import SERVICES, Served, served_stack

pytestmark = pytest.mark.integration

EXAMPLES = 12  # per operation
ADMIN = token("network-admin", "*")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


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
    operations = 0
    cases = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"invalid OpenAPI operation: {result.err()}")
            continue
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
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
            case.call_and_validate(base_url=served.url, headers=ADMIN, checks=CHECKS, timeout=30)

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
