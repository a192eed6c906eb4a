"""The superhub and two regions, from the checked-in configs, with the services as real processes.

`echo-hub dev --topology multi-region`'s platform (three superhub servers in domain `hub`, the
`ontario` and `shanghai` leaves in their own domains and accounts, streams applied as an operator
would), each region's five services on its leaf under their own NATS users, scheduling at the
superhub. Everything is counted per subject in every stream: what must arrive is waited for
(bounded), what must not arrive is checked once what had to arrive has arrived.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import pytest
from echo_contracts.envelope import Residency
from echo_contracts.events import ALL_EVENTS
from echo_contracts.subjects import subject_for
from echo_contracts.topology import (
    NETWORK_STREAM,
    SUPERHUB_STREAM,
    network_subjects,
    stream_name,
)
from echo_hub.multiregion import MultiRegionPlatform, Server
from echo_runtime.auth import mint_dev_token
from echo_runtime.settings import DEV_SECRET

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REGIONS = ("ontario", "shanghai")
TEMPLATE = "echo.network.scheduling.template_published"
WAIT = 60.0
T = TypeVar("T")


def headers(role: str, region: str = "*") -> dict[str, str]:
    token = mint_dev_token(DEV_SECRET, roles=[role], regions=[region], ttl_seconds=3600)
    return {"authorization": f"Bearer {token}"}


def wait_for(check: Callable[[], T], what: str, timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout}s: {what} (last: {last!r})")


def regional_subjects(region: str) -> set[str]:
    return {subject_for(region, c) for c in ALL_EVENTS if c.residency is Residency.REGIONAL}


class Streams:
    """Per-subject counts and message bodies of every stream, through the operators' users."""

    def __init__(self, platform: MultiRegionPlatform) -> None:
        self.platform = platform

    def _admin(self, where: str) -> str:
        p = self.platform
        if where == "hub":
            assert p.hub is not None
            return p.hub.url("admin", p.password("hub", "admin"))
        return p.leaves[where].url("admin", p.password(where, "admin"))

    async def _counts(self, where: str, stream: str) -> dict[str, int]:
        nc = await nats.connect(self._admin(where), connect_timeout=5, max_reconnect_attempts=1)
        try:
            info = await nc.jetstream(timeout=10).stream_info(stream, subjects_filter=">")
            return dict(info.state.subjects or {})
        finally:
            await nc.close()

    async def _bodies(self, where: str, stream: str) -> list[bytes]:
        nc = await nats.connect(self._admin(where), connect_timeout=5, max_reconnect_attempts=1)
        try:
            js = nc.jetstream(timeout=10)
            state = (await js.stream_info(stream)).state
            found = []
            for seq in range(state.first_seq, state.last_seq + 1):
                found.append((await js.get_msg(stream, seq)).data or b"")
            return found
        finally:
            await nc.close()

    def counts(self, where: str, stream: str) -> dict[str, int]:
        return asyncio.run(self._counts(where, stream))

    def bodies(self, where: str, stream: str) -> list[bytes]:
        return asyncio.run(self._bodies(where, stream))

    def all_counts(self) -> dict[str, dict[str, int]]:
        found = {
            SUPERHUB_STREAM: self.counts("hub", SUPERHUB_STREAM),
            NETWORK_STREAM: self.counts("hub", NETWORK_STREAM),
        }
        for region in REGIONS:
            found[stream_name(region)] = self.counts(region, stream_name(region))
        return found


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultiRegionPlatform]:
    data: Path = tmp_path_factory.mktemp("multiregion")
    (data / "logs").mkdir()
    running = MultiRegionPlatform(regions=list(REGIONS), data_dir=data, base_port=0)
    try:
        running.start_nats()
        asyncio.run(running.provision())
        running.start_services()
        running.wait_ready(timeout=150)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def streams(platform: MultiRegionPlatform) -> Streams:
    return Streams(platform)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def publish_template(platform: MultiRegionPlatform, http: httpx.Client, title: str) -> str:
    response = http.post(
        platform.url("superhub", "scheduling") + "/v1/templates",
        headers=headers("network-admin"),
        json={"title": title, "weekday": 2, "local_start": "12:00", "session_count": 4},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def template_version(
    platform: MultiRegionPlatform, http: httpx.Client, region: str, template_id: str
) -> int:
    response = http.get(
        platform.url(region, "scheduling") + f"/v1/templates/{template_id}",
        headers=headers("network-admin"),
    )
    return int(response.json()["version"]) if response.status_code == 200 else 0


def network_counts_match(streams: Streams, region: str) -> dict[str, int] | None:
    """The region's network subjects, counted the same in its stream and in ECHO_NETWORK."""
    home = streams.counts(region, stream_name(region))
    network = streams.counts("hub", NETWORK_STREAM)
    wanted = {s: n for s, n in home.items() if s in set(network_subjects(region))}
    got = {s: n for s, n in network.items() if s.startswith(f"echo.{region}.")}
    return wanted if wanted and wanted == got else None


def test_template_published_at_the_superhub_reaches_and_replicates_in_both_regions(
    platform: MultiRegionPlatform, streams: Streams, http: httpx.Client
) -> None:
    template_id = publish_template(platform, http, "Hepatitis C ECHO")
    for region in REGIONS:
        wait_for(
            lambda region=region: template_version(platform, http, region, template_id) == 1,
            f"the template in {region}'s scheduling",
        )
        programme = http.post(
            platform.url(region, "scheduling") + f"/v1/templates/{template_id}/replicate",
            headers=headers("hub-admin", region),
            json={"region": region, "timezone": "UTC", "starts_on": "2027-03-01"},
        )
        assert programme.status_code == 201, programme.text
        assert programme.json()["region"] == region
    counts = streams.all_counts()
    assert counts[SUPERHUB_STREAM] == {TEMPLATE: 1}
    for region in REGIONS:
        assert counts[stream_name(region)][TEMPLATE] == 1, f"exactly one template in {region}"


def test_network_events_reach_the_superhub_and_regional_ones_stay_home(
    platform: MultiRegionPlatform, streams: Streams, http: httpx.Client
) -> None:
    marks: dict[str, list[str]] = {}
    for region in REGIONS:
        admin = headers("hub-admin", region)
        email_mark = f"contact-{uuid.uuid4().hex[:12]}@example.org"
        # letters only: the cases screener refuses digit runs as possible record numbers
        case_mark = "casetext" + "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:12])
        marks[region] = [email_mark, case_mark]
        participant = http.post(
            platform.url(region, "attendance") + "/v1/participants",
            headers=admin,
            json={
                "region": region,
                "name": "Dr. Regional Only",
                "email": email_mark,
                "profession": "physician",
                "clinic": "Rural Clinic",
                "clinic_id": str(uuid.uuid4()),
            },
        )
        assert participant.status_code == 201, participant.text
        programmes = http.get(
            platform.url(region, "scheduling") + "/v1/programmes", headers=admin
        ).json()["items"]
        programme_id = programmes[0]["id"]
        refused: list[str] = []

        def submit(
            region: str = region,
            programme_id: str = programme_id,
            case_mark: str = case_mark,
            refused: list[str] = refused,
        ) -> int:
            response = http.post(
                platform.url(region, "cases") + "/v1/cases",
                headers=headers("hub-admin", region),
                json={
                    "programme_id": programme_id,
                    "fields": {
                        "presenting_question": "Which second-line agent for this patient?",
                        "age_band": "50-59",
                        "sex": "male",
                        "relevant_history": f"Type 2 diabetes for 12 years ({case_mark}).",
                        "medications": "Metformin 1000 mg BID.",
                        "investigations": "HbA1c 9.1%.",
                        "what_was_tried": "Diet counselling for 6 months.",
                        "specific_question": "SGLT2 inhibitor or GLP-1 agonist first?",
                    },
                },
            )
            if response.status_code != 201:
                refused.append(f"{response.status_code} {response.text[:300]}")
                return 0
            return response.status_code

        # the cases service learns of the programme from the region's stream first
        try:
            wait_for(submit, f"a case accepted in {region}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last refusal: {refused[-1:]}") from None

    for region in REGIONS:
        wait_for(
            lambda region=region: network_counts_match(streams, region),
            f"{region}'s network events counted the same in ECHO_NETWORK",
        )
        wait_for(
            lambda region=region: (
                streams.counts(region, stream_name(region)).get(
                    f"echo.{region}.cases.case_submitted", 0
                )
                >= 1
            ),
            f"the case_submitted event in {stream_name(region)}",
        )
    for region in REGIONS:
        # the network copy is exact once more
        assert network_counts_match(streams, region)
    counts = streams.all_counts()
    for region in REGIONS:
        home = counts[stream_name(region)]
        assert home.get(f"echo.{region}.attendance.participant_registered") == 1
        assert home.get(f"echo.{region}.cases.case_submitted") == 1
        other = next(r for r in REGIONS if r != region)
        # nothing of this region in the other one; nothing regional anywhere but home
        assert not [s for s in counts[stream_name(other)] if s.startswith(f"echo.{region}.")]
        assert not regional_subjects(region) & set(counts[NETWORK_STREAM])
        assert not regional_subjects(region) & set(counts[SUPERHUB_STREAM])
    network_subjects_all = {s for r in REGIONS for s in network_subjects(r)}
    assert set(counts[NETWORK_STREAM]) <= network_subjects_all
    assert set(counts[SUPERHUB_STREAM]) == {TEMPLATE}
    # and not a byte of contact data or case text outside its region
    for where, stream in (
        ("hub", NETWORK_STREAM),
        ("hub", SUPERHUB_STREAM),
        ("ontario", stream_name("ontario")),
        ("shanghai", stream_name("shanghai")),
    ):
        blob = b"\n".join(streams.bodies(where, stream))
        for region in REGIONS:
            for mark in marks[region]:
                assert mark.encode() not in blob or where == region, f"{mark} in {stream}"
        if stream == NETWORK_STREAM:
            for mark in [m for ms in marks.values() for m in ms]:
                assert mark.encode() not in blob


def test_network_metrics_of_both_regions_reach_the_superhub_report(
    platform: MultiRegionPlatform, streams: Streams, http: httpx.Client
) -> None:
    """The superhub's reporting folds ECHO_NETWORK: its per-region numbers match each region."""
    for region in REGIONS:  # one more programme each, so the check cannot pass on stale zeros
        created = http.post(
            platform.url(region, "scheduling") + "/v1/programmes",
            headers=headers("hub-admin", region),
            json={
                "region": region,
                "title": f"Network report programme {region}",
                "timezone": "UTC",
                "starts_on": "2027-05-03",
                "local_start": "12:00",
                "session_count": 4,
            },
        )
        assert created.status_code == 201, created.text

    def report_matches() -> dict[str, Any] | None:
        counts = streams.all_counts()
        body: dict[str, Any] = http.get(
            platform.url("superhub", "reporting") + "/v1/reports/network",
            headers=headers("network-admin"),
        ).json()
        by_region = {r["region"]: r for r in body["regions"]["items"]}
        for region in REGIONS:
            mine = counts[stream_name(region)]
            expected_programmes = mine.get(f"echo.{region}.scheduling.programme_created", 0)
            expected_sessions = mine.get(f"echo.{region}.scheduling.session_scheduled", 0)
            got = by_region.get(region, {})
            if (got.get("programmes"), got.get("sessions_total")) != (
                expected_programmes,
                expected_sessions,
            ) or not expected_programmes:
                return None
        return body

    body = wait_for(report_matches, "the superhub report to match each region's stream")
    regions = body["regions"]["items"]
    assert body["totals"]["programmes"] == sum(r["programmes"] for r in regions)
    # the network view holds no regional detail
    assert "cases_rejected" not in body["totals"]


def test_a_region_cut_off_catches_up_with_nothing_lost_or_doubled(
    platform: MultiRegionPlatform, streams: Streams, http: httpx.Client
) -> None:
    before = streams.all_counts()
    leaf: Server = platform.leaves["shanghai"]
    leaf.stop()
    try:
        # the superhub publishes while shanghai is away; both regions keep working locally
        template_id = publish_template(platform, http, "Diabetes ECHO")
        for region in REGIONS:
            created = http.post(
                platform.url(region, "scheduling") + "/v1/programmes",
                headers=headers("hub-admin", region),
                json={
                    "region": region,
                    "title": f"Offline-period programme {region}",
                    "timezone": "UTC",
                    "starts_on": "2027-04-05",
                    "local_start": "12:00",
                    "session_count": 3,
                },
            )
            assert created.status_code == 201, created.text
        wait_for(
            lambda: template_version(platform, http, "ontario", template_id) == 1,
            "the new template in ontario while shanghai is cut off",
        )
        time.sleep(3)  # shanghai stays away a while
        assert streams.counts("hub", NETWORK_STREAM).get(
            "echo.shanghai.scheduling.programme_created", 0
        ) == before[NETWORK_STREAM].get("echo.shanghai.scheduling.programme_created", 0)
    finally:
        leaf.start()
        leaf.wait_ready()
    wait_for(
        lambda: template_version(platform, http, "shanghai", template_id) == 1,
        "the template published during the cut in shanghai's scheduling",
        timeout=90,
    )
    for region in REGIONS:
        subject = f"echo.{region}.scheduling.programme_created"
        wait_for(
            lambda region=region, subject=subject: (
                streams.counts(region, stream_name(region)).get(subject, 0)
                == before[stream_name(region)].get(subject, 0) + 1
                and network_counts_match(streams, region)
            ),
            f"{region}'s offline-period programme in its stream and in ECHO_NETWORK",
            timeout=90,
        )
    after = streams.all_counts()
    for region in REGIONS:
        home = after[stream_name(region)]
        assert home[TEMPLATE] == before[stream_name(region)][TEMPLATE] + 1 == 2
        sessions = f"echo.{region}.scheduling.session_scheduled"
        assert home[sessions] == before[stream_name(region)][sessions] + 3
        assert network_counts_match(streams, region)
    assert after[SUPERHUB_STREAM] == {TEMPLATE: 2}
