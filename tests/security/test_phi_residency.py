"""PHI stays where it belongs: one scenario through real processes, every output searched.

`echo-hub dev --topology multi-region`'s platform (superhub cluster + `ontario` and `shanghai`
leaves from the checked-in configs, every service a real process under its own NATS user) runs
with spans printed to each service's output (`OTEL_TRACES_EXPORTER=console`). In `ontario`: two
participants with distinctive emails are enrolled and registered, a case with distinctive text is
submitted (text with PHI is refused), reviewed, approved, put on a session's agenda and, once the
session is under way, answered with recommendations (emailed to the presenter). Then everything
is collected:

* every process's output (JSON logs and the spans): `logs`;
* every message of every stream on every server (regional, network, superhub, DLQ);
* every database file (SQLite, with its WAL) of every service in both regions and the superhub,
  and the superhub's network report;

and searched for each case text and email. Refused texts of every category the gate knows
(names in five scripts, obfuscated e-mails, numbers in words, checksummed ids; `REFUSED`) are
submitted too: each must be a 422 naming its category, and its text may appear nowhere at all.
The accepted texts and emails may appear only in ontario's cases, attendance
and notifications stores and in ontario's own stream: anywhere else is a hit. A positive control
(the marks are found where they belong) makes sure the search can fail.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import pytest
from echo_hub.multiregion import MultiRegionPlatform
from echo_runtime.auth import mint_dev_token
from echo_runtime.settings import DEV_SECRET

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REGIONS = ("ontario", "shanghai")
HOME = "ontario"
T = TypeVar("T")
#: Where the marks belong (regional stores of the home region and its own stream).
ALLOWED = {
    f"db {HOME}/cases",
    f"db {HOME}/attendance",
    f"db {HOME}/notifications",
    f"stream {HOME}/ECHO_ONTARIO",
    f"mail {HOME}",
}


#: Refused texts of every category the gate knows across scripts (issue 15), each with its
#: own mark (`{mark}`): a refused text is stored nowhere, so its mark is a hit anywhere at all.
REFUSED: tuple[tuple[str, str], ...] = (
    ("name", "Пациентка Анна Сергеевна Волкова ({mark}), сахарный диабет."),
    ("name", "السيد أحمد منصور يشكو من ألم في الصدر ({mark})."),
    ("name", "김민수 씨는 당뇨병이 있습니다 ({mark})."),
    ("name", "श्रीमती सुनीता शर्मा को मधुमेह है ({mark})।"),
    ("name", "主治医生李明华建议加量 ({mark})。"),
    ("name", "Tatiana Morozova has hepatitis C ({mark})."),
    ("email", "Write to {mark} [at] hotmail [dot] com for the scans."),
    ("email", "Her e-mail is {mark} dot lopez at outlook dot com."),
    ("email", "Reach the nurse at {mark}(at)clinic.ca today."),
    ("phone", "Call her at six one three, five five five, zero one four two ({mark})."),
    ("phone", "Appelez le zéro six, douze, trente-quatre, cinquante-six ({mark})."),
    ("national_id", "The disability form showed 526 018 155 ({mark})."),
    ("national_id", "आधार 7574 9118 6253 रेफ़रल पर लिखा था ({mark})।"),
    ("health_plan_number", "GP letter for 4026859959 arrived ({mark})."),
)


def letters(n: int = 12) -> str:
    # letters only: the cases screener refuses digit runs as possible record numbers
    return "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:n])


def headers(role: str, region: str = "*", subject: str | None = None) -> dict[str, str]:
    token = mint_dev_token(
        DEV_SECRET, subject=subject, roles=[role], regions=[region], ttl_seconds=3600
    )
    return {"authorization": f"Bearer {token}"}


def wait_for(check: Callable[[], T], what: str, timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout}s: {what} (last: {last!r})")


ONTARIO_SERVICES = ("scheduling", "cases", "attendance", "notifications", "reporting")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultiRegionPlatform]:
    data: Path = tmp_path_factory.mktemp("phi")
    (data / "logs").mkdir()
    names = ("OTEL_TRACES_EXPORTER", "OTEL_BSP_SCHEDULE_DELAY", "NOTIFICATIONS_MAIL_DROP_DIR")
    saved = {k: os.environ.get(k) for k in names}
    os.environ["OTEL_TRACES_EXPORTER"] = "console"  # every span into the process output
    # spans written every 100 ms, not 5 s: the scenario may be over before the default fires
    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    os.environ["NOTIFICATIONS_MAIL_DROP_DIR"] = str(data / "mail")
    running = MultiRegionPlatform(regions=list(REGIONS), data_dir=data, base_port=0)
    try:
        running.start_nats()
        asyncio.run(running.provision())
        running.start_services()
        running.wait_ready(timeout=150)
        yield running
    finally:
        running.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def stream_messages(platform: MultiRegionPlatform) -> dict[str, bytes]:
    """Every stream on the superhub and each leaf: headers and bodies of every message."""
    where_urls = {"hub": platform.hub.url("admin", platform.password("hub", "admin"))}  # type: ignore[union-attr]
    for region in REGIONS:
        where_urls[region] = platform.leaves[region].url(
            "admin", platform.password(region, "admin")
        )
    found: dict[str, bytes] = {}
    for where, url in where_urls.items():
        nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=1)
        try:
            js = nc.jetstream(timeout=10)
            for info in await js.streams_info():
                name = info.config.name or ""
                chunks = []
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    try:
                        msg = await js.get_msg(name, seq)
                    except Exception:  # noqa: S112 - a deleted sequence (limits, dedup)
                        continue
                    chunks.append(repr(msg.headers).encode() + b"\n" + (msg.data or b""))
                found[f"stream {where}/{name}"] = b"\n".join(chunks)
        finally:
            await nc.close()
    return found


def collect(platform: MultiRegionPlatform, http: httpx.Client) -> dict[str, bytes]:
    """Every place data can end up, by location name."""
    data = platform.data_dir
    found: dict[str, bytes] = {}
    for log in sorted((data / "logs").glob("*.log")):
        found[f"logs {log.stem}"] = log.read_bytes()
    for log in sorted(data.rglob("*.log")):
        if log.parent != data / "logs":
            found[f"logs nats/{log.name}"] = log.read_bytes()
    for where in (*REGIONS, "superhub"):
        for db in sorted((data / where).glob("*.db")):
            files = [db, *db.parent.glob(db.name + "-*")]  # the WAL holds recent writes
            found[f"db {where}/{db.stem}"] = b"".join(f.read_bytes() for f in files)
    mail = data / "mail"
    if mail.exists():
        found[f"mail {HOME}"] = b"".join(f.read_bytes() for f in mail.rglob("*") if f.is_file())
    report = http.get(
        platform.url("superhub", "reporting") + "/v1/reports/network",
        headers=headers("network-admin"),
    )
    found["superhub report"] = report.content
    found.update(asyncio.run(stream_messages(platform)))
    return found


def test_case_text_and_emails_appear_only_in_their_region_stores_and_stream(
    platform: MultiRegionPlatform,
) -> None:
    case_mark = "casetext" + letters()
    question_mark = "question" + letters()
    advice_mark = "advice" + letters()
    emails = [f"phi-{letters(8)}@example.org", f"phi-{letters(8)}@example.org"]
    marks = [case_mark, question_mark, advice_mark, *emails]
    hub = headers("hub-admin", HOME)
    with httpx.Client(timeout=30) as http:
        programme = http.post(
            platform.url(HOME, "scheduling") + "/v1/programmes",
            headers=hub,
            json={
                "region": HOME,
                "title": "Residency programme",
                "timezone": "UTC",
                "starts_on": str(date.today() + timedelta(days=7)),
                "local_start": "12:00",
                "session_count": 4,
            },
        )
        assert programme.status_code == 201, programme.text
        programme_id = programme.json()["id"]

        def known_to_attendance() -> bool:
            answer = http.get(
                platform.url(HOME, "attendance") + f"/v1/programmes/{programme_id}/credit-rule",
                headers=hub,
            )
            return answer.status_code == 200

        wait_for(known_to_attendance, "the programme in attendance")
        people = []
        for n, email in enumerate(emails):
            person = http.post(
                platform.url(HOME, "attendance") + "/v1/participants",
                headers=hub,
                json={
                    "region": HOME,
                    "name": f"Doctor Residency {chr(65 + n)}",
                    "email": email,
                    "profession": "physician",
                    "clinic": "Rural Clinic",
                    "clinic_id": str(uuid.uuid4()),
                },
            )
            assert person.status_code == 201, person.text
            people.append(person.json()["id"])
            registered = http.post(
                platform.url(HOME, "attendance") + f"/v1/programmes/{programme_id}/registrations",
                headers=hub,
                json={"participant_id": person.json()["id"]},
            )
            assert registered.status_code in (200, 201), registered.text
        spoke = headers("spoke", HOME, subject=people[0])
        fields = {
            "presenting_question": f"Which second-line agent ({question_mark})?",
            "age_band": "50-59",
            "sex": "male",
            "relevant_history": f"Type 2 diabetes for twelve years ({case_mark}).",
            "medications": "Metformin 1000 mg BID.",
            "investigations": "HbA1c 9.1%.",
            "what_was_tried": "Diet counselling for 6 months.",
            "specific_question": "SGLT2 inhibitor or GLP-1 agonist first?",
        }
        case: dict[str, Any] = {}

        def submitted() -> bool:
            answer = http.post(
                platform.url(HOME, "cases") + "/v1/cases",
                headers=spoke,
                json={"programme_id": programme_id, "fields": fields},
            )
            case.update(answer.json() if answer.status_code == 201 else {})
            return answer.status_code == 201

        wait_for(submitted, "the registered spoke's case accepted")
        # text with PHI is refused before it is stored or sent anywhere
        refused = http.post(
            platform.url(HOME, "cases") + "/v1/cases",
            headers=spoke,
            json={
                "programme_id": programme_id,
                "fields": {
                    **fields,
                    "relevant_history": f"{case_mark} MRN 48213377, DOB 1961-02-03",
                },
            },
        )
        assert refused.status_code == 422, refused.text
        refused_marks = []
        for category, template in REFUSED:
            mark = "refused" + letters()
            refused_marks.append(mark)
            answer = http.post(
                platform.url(HOME, "cases") + "/v1/cases",
                headers=spoke,
                json={
                    "programme_id": programme_id,
                    "fields": {**fields, "relevant_history": template.format(mark=mark)},
                },
            )
            assert answer.status_code == 422, (template, answer.text)
            assert category in answer.json()["categories"], (template, answer.json())
            assert mark not in answer.text  # the refusal names spans, never the text
        for action in ("review", "approve"):
            answer = http.post(
                platform.url(HOME, "cases") + f"/v1/cases/{case['id']}/{action}", headers=hub
            )
            assert answer.status_code == 200, answer.text
        # the first session moved to start in a few seconds, the case on its agenda, and once
        # it is under way the hub issues recommendations (they are emailed to the presenter)
        sessions = http.get(
            platform.url(HOME, "scheduling") + f"/v1/programmes/{programme_id}/sessions",
            headers=hub,
        ).json()["items"]
        session_id = sessions[0]["id"]
        soon = datetime.now(UTC) + timedelta(seconds=10)
        moved = http.patch(
            platform.url(HOME, "scheduling") + f"/v1/sessions/{session_id}",
            headers=hub,
            json={"starts_at": soon.isoformat()},
        )
        assert moved.status_code == 200, moved.text
        agenda = http.put(
            platform.url(HOME, "scheduling") + f"/v1/sessions/{session_id}/agenda",
            headers=hub,
            json={"case_slots": [{"position": 1, "case_id": case["id"]}]},
        )
        assert agenda.status_code == 200, agenda.text

        def recommended() -> bool:
            answer = http.post(
                platform.url(HOME, "cases") + f"/v1/cases/{case['id']}/recommendations",
                headers=hub,
                json={"text": f"Start an SGLT2 inhibitor ({advice_mark})."},
            )
            return answer.status_code == 200

        wait_for(recommended, "recommendations accepted once the session is under way")

        def presenter_told() -> bool:
            mail = platform.data_dir / "mail"
            blobs = (
                [f.read_bytes() for f in mail.rglob("*") if f.is_file()] if mail.exists() else []
            )
            return any(advice_mark.encode() in b or b"recommendation" in b.lower() for b in blobs)

        wait_for(presenter_told, "the presenter's recommendations email")

        def network_settled() -> bool:
            report = http.get(
                platform.url("superhub", "reporting") + "/v1/reports/network",
                headers=headers("network-admin"),
            ).json()
            mine = {r["region"]: r for r in report["regions"]["items"]}.get(HOME, {})
            return bool(mine.get("programmes"))

        wait_for(network_settled, "the superhub report counting ontario")

        def spans_exported() -> bool:
            # the batch span processor writes every OTEL_BSP_SCHEDULE_DELAY ms (set below)
            logs = [platform.data_dir / "logs" / f"{HOME}-{s}.log" for s in ONTARIO_SERVICES]
            return all(b'"span_id": "0x' in log.read_bytes() for log in logs if log.exists())

        wait_for(spans_exported, "every ontario service's spans in its log")
        time.sleep(1.0)  # and the spans of the last requests
        found = collect(platform, http)

    hits: Counter[str] = Counter()
    controls: Counter[str] = Counter()
    found_marks: Counter[str] = Counter()
    refused_values = [
        template.format(mark=mark)
        for (_, template), mark in zip(REFUSED, refused_marks, strict=True)
    ]
    for location, blob in found.items():
        # refused texts (each with its mark) may be nowhere, not even where case text belongs
        for value in [*refused_marks, *refused_values]:
            if value.encode() in blob:
                hits[f"{location}: refused {value[:40]}"] += blob.count(value.encode())
        for mark in marks:
            count = blob.count(mark.encode())
            if not count:
                continue
            if location in ALLOWED:
                controls[location] += count
                found_marks[mark] += count
            else:
                hits[f"{location}: {mark}"] += count
    spans = sum(blob.count(b'"span_id": "0x') for k, blob in found.items() if k.startswith("logs"))
    log_lines = sum(blob.count(b"\n") for k, blob in found.items() if k.startswith("logs"))
    streams = [k for k in found if k.startswith("stream ")]
    print(
        f"\nPHI search: {len(marks)} marks in {len(found)} locations ({log_lines} log lines,"
        f" {spans} spans, {len(streams)} streams: {sorted(streams)})"
    )
    print(f"  where they belong (positive control): {dict(controls)}")
    print(f"  each mark found there: {[found_marks[m] for m in marks]}")
    print(f"  refused texts searched for (categories): {Counter(c for c, _ in REFUSED)}")
    print(f"  hits outside: {sum(hits.values())} {dict(hits)}")
    assert spans > 0, "no span was captured: the trace search would find nothing"
    assert controls[f"db {HOME}/cases"] > 0 and controls[f"db {HOME}/attendance"] > 0
    assert controls[f"stream {HOME}/ECHO_ONTARIO"] > 0
    assert all(found_marks[m] for m in marks), "a mark was not found even where it belongs"
    assert not hits, dict(hits)
