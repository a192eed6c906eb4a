"""The seeded scenario, published to the streams, read back through HTTP: the golden numbers."""

from __future__ import annotations

import json
import os
import random
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from echo_contracts import subject_for, to_wire
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


async def _read_golden_queries(client: Any) -> dict[str, Any]:
    got: dict[str, Any] = {}
    for name, (path, (role, region)) in QUERIES.items():
        response = await client.get(path, headers=token(role, region))
        assert response.status_code == 200, response.text
        got[name] = (
            response.text.splitlines() if name.endswith("_csv") else _without_clock(response.json())
        )
    return got


async def test_seeded_scenario_matches_the_golden_file_through_http(
    js: JetStreamContext, database_url: str, settings_for: Callable[..., Any]
) -> None:
    async with running(bootstrap(settings_for(database_url))) as client:
        await publish(js, seeded_scenario().envelopes)
        await all_consumed(js)
        got = await _read_golden_queries(client)
    if os.environ.get("REPORTING_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert got == expected
    # The hand-counted numbers (see tests/unit/test_projections.py) are the golden ones.
    totals = got["network"]["totals"]
    assert (totals["sessions_held"], totals["attendances"], totals["retention"]) == (8, 12, 0.6667)
    assert got["ontario"]["totals"]["cases_rejected"] == 1
    assert got["network_csv"][0].startswith("level,region,programme_id,month,from,to,programmes,")


@pytest.mark.parametrize("seed", [2025])
async def test_shuffled_and_redelivered_events_give_the_golden_numbers(
    js: JetStreamContext, database_url: str, settings_for: Callable[..., Any], seed: int
) -> None:
    """Aggregates interleaved at random (each in its own order) plus redeliveries, live on a DB."""
    rnd = random.Random(seed)
    envelopes = seeded_scenario().envelopes
    queues: dict[str, deque[Any]] = defaultdict(deque)
    for env in envelopes:
        queues[env.subject].append(env)
    order = [env.subject for env in envelopes]
    rnd.shuffle(order)
    shuffled = [queues[subject].popleft() for subject in order]
    async with running(bootstrap(settings_for(database_url))) as client:
        await publish(js, shuffled)
        for env in rnd.sample(envelopes, 20):
            # A relay retry after the duplicate window: stored again under another message id.
            await js.publish(
                subject_for(env.region, env.data),
                to_wire(env),
                headers={"Nats-Msg-Id": f"again-{env.id}"},
            )
        await all_consumed(js)
        got = await _read_golden_queries(client)
    assert got == json.loads(GOLDEN.read_text())
