"""The seeded scenario, published to the streams, read back through HTTP: the golden numbers."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from echo_reporting.bootstrap import bootstrap
from echo_runtime.testing import running, token
from nats.js import JetStreamContext

from ..conftest import all_consumed, publish
from ..scenario import ids, seeded_scenario

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).parents[1] / "golden" / "seeded_scenario.json"
HEP = ids("programme:hepatitis c ontario")
QUERIES = {
    "network": ("/v1/reports/network", ("network-admin", "*")),
    "network_february": (
        "/v1/reports/network?from=2025-02-01&to=2025-02-28",
        ("observer", "ontario"),
    ),
    "ontario": ("/v1/reports/regions/ontario", ("hub-admin", "ontario")),
    "shanghai_2025": (
        "/v1/reports/regions/shanghai?from=2025-01-01&to=2025-12-31",
        ("observer", "shanghai"),
    ),
    "hepatitis": (f"/v1/reports/programmes/{HEP}", ("facilitator", "ontario")),
    "network_csv": ("/v1/reports/network?format=csv", ("network-admin", "*")),
    "hepatitis_csv": (f"/v1/reports/programmes/{HEP}?format=csv", ("facilitator", "ontario")),
}


def _without_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k != "as_of"}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


async def test_seeded_scenario_matches_the_golden_file_through_http(
    js: JetStreamContext, database_url: str, settings_for: Callable[..., Any]
) -> None:
    async with running(bootstrap(settings_for(database_url))) as client:
        await publish(js, seeded_scenario().envelopes)
        await all_consumed(js)
        got: dict[str, Any] = {}
        for name, (path, (role, region)) in QUERIES.items():
            response = await client.get(path, headers=token(role, region))
            assert response.status_code == 200, response.text
            got[name] = (
                response.text.splitlines()
                if name.endswith("_csv")
                else _without_clock(response.json())
            )
    if os.environ.get("REPORTING_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert got == expected
    # The hand-counted numbers (see tests/unit/test_projections.py) are the golden ones.
    totals = got["network"]["totals"]
    assert (totals["sessions_held"], totals["attendances"], totals["retention"]) == (8, 12, 0.6667)
    assert got["ontario"]["totals"]["cases_rejected"] == 1
    assert got["network_csv"][0].startswith("level,region,programme_id,month,from,to,programmes,")
