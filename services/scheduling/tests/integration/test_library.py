"""The session library on both stores: a local directory and S3 (a real moto server over HTTP).

Upload, list, signed download, expiry, access for members and non-members, the events on the
stream, bad input refused with nothing stored, and search.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
import sqlalchemy as sa
from echo_contracts import RegistrationConfirmed, new_envelope, subject_for, to_wire
from echo_contracts.events import Profession
from echo_runtime.natsserver import NatsServer, free_port
from echo_runtime.provision import ApplyReport, apply_consumer
from echo_runtime.testing import eventually, running, token
from echo_scheduling.bootstrap import INBOX, SchedulingRuntime, bootstrap
from echo_scheduling.settings import SchedulingSettings
from moto.server import ThreadedMotoServer
from nats.js import JetStreamContext

from ..conftest import REGIONS, drained, of_type, stream_events

pytestmark = pytest.mark.integration

#: Longer than the consumer's ack wait, as in the other consumer tests.
CONSUMED = 60.0

PDF = b"%PDF-1.7\n" + os.urandom(20_000) + b"\n%%EOF\n"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(30_000)
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2_000)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A real S3-compatible server (moto in server mode) on a free loopback port."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@dataclass
class Store:
    """One store under test and how to look into it from outside the service."""

    kind: str
    settings: dict[str, Any]
    files: Callable[[], list[str]]


def _s3_client(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _s3_settings(url: str, bucket: str, **extra: str) -> dict[str, str]:
    """Scheduling settings for a library in `bucket` of the S3 server at `url`."""
    return {
        "library_storage": "s3",
        "library_s3_endpoint": url,
        "library_s3_bucket": bucket,
        "library_s3_access_key_id": "testing",
        "library_s3_secret_access_key": "testing",
        **extra,
    }


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        root = tmp_path / "library"

        def local_files() -> list[str]:
            if not root.exists():
                return []
            return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

        return Store("local", {"library_dir": root}, local_files)
    url: str = request.getfixturevalue("moto_url")
    bucket = f"echo-library-{uuid.uuid4().hex[:12]}"
    client = _s3_client(url)
    client.create_bucket(Bucket=bucket)

    def s3_files() -> list[str]:
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        pending = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return sorted(keys + [f"(unfinished upload) {u['Key']}" for u in pending])

    return Store("s3", _s3_settings(url, bucket), s3_files)


@pytest.fixture
def make_runtime(nats_server: NatsServer) -> Callable[..., SchedulingRuntime]:
    def make(database_url: str, store: Store, **overrides: Any) -> SchedulingRuntime:
        settings = SchedulingSettings(
            nats_url=nats_server.url,
            database_url=database_url,
            regions=REGIONS,
            relay_poll_interval=0.05,
            **{**store.settings, **overrides},
        )
        return bootstrap(settings)

    return make


async def _inbox_with_registrations(js: JetStreamContext) -> None:
    # Provisioning takes its filter from the contracts' spec; scheduling's durable must also
    # carry RegistrationConfirmed (a one-line contracts change asked for in the report).
    for region in REGIONS:
        await apply_consumer(js, INBOX, region, ApplyReport())


async def _register(js: JetStreamContext, programme_id: str, participant: uuid.UUID) -> Any:
    event = RegistrationConfirmed(
        registration_id=uuid.uuid4(),
        participant_id=participant,
        programme_id=uuid.UUID(programme_id),
        clinic_id=uuid.uuid4(),
        profession=Profession.NURSE,
    )
    env = new_envelope(event, region="ontario", service="attendance")
    wire = to_wire(env)
    subject = subject_for("ontario", event)
    await js.publish(subject, wire, headers={"Nats-Msg-Id": str(env.id)})
    # The same event again under another message id: the inbox makes it a no-op.
    await js.publish(subject, wire, headers={"Nats-Msg-Id": f"{env.id}-again"})
    return env


def _programme(programme_body: Callable[..., dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    return programme_body(
        curriculum=[
            {"title": "Opioid tapering in primary care"},
            {"title": "Buprenorphine induction"},
        ],
        **overrides,
    )


async def _new_programme(
    client: Any, programme_body: Callable[..., dict[str, Any]], headers: dict[str, str]
) -> str:
    """Create a programme (with its curriculum) and return its id."""
    created = await client.post("/v1/programmes", json=_programme(programme_body), headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _upload(
    kind: str,
    title: str,
    content: bytes,
    content_type: str,
    *,
    session_id: str | None = None,
    language: str = "en",
    filename: str = "file.bin",
) -> dict[str, Any]:
    data = {"kind": kind, "title": title, "language": language}
    if session_id:
        data["session_id"] = session_id
    return {"data": data, "files": {"file": (filename, content, content_type)}}


async def _follow(client: httpx.AsyncClient, location: str) -> httpx.Response:
    """Fetch a signed URL as a browser would, with no token (the app's own, or S3's)."""
    if location.startswith("http://testserver"):
        return await client.get(location)
    async with httpx.AsyncClient() as outside:
        return await outside.get(location)


async def test_upload_list_signed_download_and_delete_on_each_store(
    js: JetStreamContext,
    database_url: str,
    store: Store,
    make_runtime: Callable[..., SchedulingRuntime],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    await _inbox_with_registrations(js)
    runtime = make_runtime(database_url, store)
    hub_admin = token("hub-admin")
    facilitator = token("facilitator")
    member_id = uuid.uuid4()
    member = token("spoke", subject=str(member_id))
    stranger = token("spoke", subject=str(uuid.uuid4()))
    async with running(runtime) as client:
        created = await client.post(
            "/v1/programmes", json=_programme(programme_body), headers=hub_admin
        )
        assert created.status_code == 201, created.text
        programme = created.json()
        pid = programme["id"]
        sessions = (await client.get(f"/v1/programmes/{pid}/sessions", headers=hub_admin)).json()
        first_session = sessions["items"][0]["id"]
        materials_url = f"/v1/programmes/{pid}/materials"

        slides = await client.post(
            materials_url,
            headers=facilitator,
            **_upload(
                "slides", "Tapering slides", PDF, "application/pdf", session_id=first_session
            ),
        )
        assert slides.status_code == 201, slides.text
        recording = await client.post(
            materials_url,
            headers=hub_admin,
            **_upload("recording", "Session 1 recording", MP4, "video/mp4"),
        )
        assert recording.status_code == 201, recording.text
        link = await client.post(
            materials_url,
            headers=token("expert"),
            json={"kind": "link", "title": "CDC guideline", "url": "https://example.org/cdc"},
        )
        assert link.status_code == 201, link.text
        assert slides.json()["size_bytes"] == len(PDF)
        assert slides.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
        assert slides.json()["file_type"] == "pdf"
        assert len(store.files()) == 2

        listed = (await client.get(materials_url, headers=hub_admin)).json()
        assert listed["total"] == 3
        assert {m["title"] for m in listed["items"]} == {
            "Tapering slides",
            "Session 1 recording",
            "CDC guideline",
        }
        only_recordings = (
            await client.get(materials_url, params={"kind": "recording"}, headers=hub_admin)
        ).json()
        assert [m["id"] for m in only_recordings["items"]] == [recording.json()["id"]]
        of_session = (
            await client.get(materials_url, params={"session_id": first_session}, headers=hub_admin)
        ).json()
        assert [m["id"] for m in of_session["items"]] == [slides.json()["id"]]

        # Non-members: a spoke not registered, an observer, a hub-admin of another region.
        download_url = f"/v1/materials/{slides.json()['id']}/download"
        for outsider in (stranger, token("observer"), token("hub-admin", "shanghai")):
            assert (await client.get(materials_url, headers=outsider)).status_code == 403
            assert (await client.get(download_url, headers=outsider)).status_code == 403
        refused = await client.get(materials_url, headers=stranger)
        assert "registered participants" in refused.json()["detail"]
        assert refused.headers["content-type"] == "application/problem+json"
        # A spoke cannot add, even once registered.
        assert (
            await client.post(
                materials_url, headers=member, **_upload("slides", "x", PDF, "application/pdf")
            )
        ).status_code == 403

        await _register(js, pid, member_id)

        async def admitted() -> bool:
            return (await client.get(materials_url, headers=member)).status_code == 200

        await eventually(admitted, timeout=CONSUMED)
        redirect = await client.get(download_url, headers=member)
        assert redirect.status_code == 307, redirect.text
        fetched = await _follow(client, redirect.headers["location"])
        assert fetched.status_code == 200
        assert fetched.content == PDF
        assert (await client.get(materials_url, headers=stranger)).status_code == 403

        link_redirect = await client.get(
            f"/v1/materials/{link.json()['id']}/download", headers=member
        )
        assert link_redirect.headers["location"] == "https://example.org/cdc"

        # Removing: only staff; the file goes, the item is gone, its old link is dead.
        assert (
            await client.delete(f"/v1/materials/{slides.json()['id']}", headers=member)
        ).status_code == 403
        old_location = (await client.get(download_url, headers=hub_admin)).headers["location"]
        deleted = await client.delete(f"/v1/materials/{slides.json()['id']}", headers=facilitator)
        assert deleted.status_code == 204
        assert store.files() == [f"programmes/{pid}/{recording.json()['id']}"]
        assert (await client.get(download_url, headers=hub_admin)).status_code == 404
        again = await client.delete(f"/v1/materials/{slides.json()['id']}", headers=hub_admin)
        assert again.status_code == 404
        assert (await _follow(client, old_location)).status_code in (403, 404)
        assert (await client.get(materials_url, headers=hub_admin)).json()["total"] == 2

        await eventually(lambda: drained(runtime))
        events = await stream_events(js, "ECHO_ONTARIO", "echo.ontario.scheduling.material")
        members = await eventually(lambda: _members(runtime, pid), timeout=CONSUMED)

    added = of_type(events, "material_added")
    removed = of_type(events, "material_removed")
    assert sorted(str(e.data.material_id) for e in added) == sorted(
        [slides.json()["id"], recording.json()["id"], link.json()["id"]]
    )
    assert len({e.id for e in added}) == 3
    by_kind = {e.data.kind.value: e.data for e in added}
    assert by_kind["recording"].size_bytes == len(MP4)
    assert by_kind["slides"].session_id == uuid.UUID(first_session)
    assert [str(e.data.material_id) for e in removed] == [slides.json()["id"]]
    assert members == 1  # the registration redelivered under another id counted once


async def _members(runtime: SchedulingRuntime, programme_id: str) -> int:
    from echo_scheduling.adapters.tables import library_members

    async with runtime.db.session() as session:
        count = await session.execute(
            sa.select(sa.func.count())
            .select_from(library_members)
            .where(library_members.c.programme_id == uuid.UUID(programme_id))
        )
        return int(count.scalar_one())


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize("where", ["local", "s3"])
async def test_a_signed_link_works_until_it_expires_and_cannot_be_altered(
    where: str,
    js: JetStreamContext,
    sqlite_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    make_runtime: Callable[..., SchedulingRuntime],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    """The service's own links, on the local store and on S3 (files streamed from the bucket
    by the service, `LIBRARY_S3_DOWNLOADS=service`): the service enforces the expiry."""
    if where == "local":
        kept = Store("local", {"library_dir": tmp_path / "library"}, list)
    else:
        moto_url: str = request.getfixturevalue("moto_url")
        bucket = f"echo-library-{uuid.uuid4().hex[:12]}"
        _s3_client(moto_url).create_bucket(Bucket=bucket)
        kept = Store("s3", _s3_settings(moto_url, bucket, library_s3_downloads="service"), list)
    runtime = make_runtime(sqlite_url, kept, library_link_ttl_seconds=120)
    clock = Clock()
    runtime.library.clock = clock
    signer = runtime.library.storage.signer  # type: ignore[attr-defined]
    signer.clock = clock
    hub_admin = token("hub-admin")
    async with running(runtime) as client:
        pid = await _new_programme(client, programme_body, hub_admin)
        added = await client.post(
            f"/v1/programmes/{pid}/materials",
            headers=hub_admin,
            **_upload("document", "Handout", b"Plain text handout\n", "text/plain"),
        )
        assert added.status_code == 201, added.text
        redirect = await client.get(
            f"/v1/materials/{added.json()['id']}/download", headers=hub_admin
        )
        location = redirect.headers["location"]
        query = parse_qs(urlsplit(location).query)
        assert int(query["expires"][0]) == int((clock.now + timedelta(seconds=120)).timestamp())

        ok = await client.get(location)
        assert ok.status_code == 200
        assert ok.content == b"Plain text handout\n"
        assert ok.headers["content-type"].startswith("text/plain")

        # A range, as a player seeking in a recording asks.
        part = await client.get(location, headers={"range": "bytes=6-9"})
        assert part.status_code == 206
        assert part.content == b"text"
        assert part.headers["content-range"] == "bytes 6-9/19"
        tail = await client.get(location, headers={"range": "bytes=-8"})
        assert tail.content == b"handout\n"
        beyond = await client.get(location, headers={"range": "bytes=100-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == "bytes */19"

        tampered = location.replace(query["expires"][0], str(int(query["expires"][0]) + 3600))
        assert (await client.get(tampered)).status_code == 403

        clock.now += timedelta(seconds=121)
        expired = await client.get(location)
        assert expired.status_code == 403
        assert "expired" in expired.json()["detail"]
        assert "ask for a new one" in expired.json()["detail"]


async def test_an_s3_download_is_a_presigned_url_with_the_configured_expiry(
    js: JetStreamContext,
    sqlite_url: str,
    moto_url: str,
    make_runtime: Callable[..., SchedulingRuntime],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    bucket = f"echo-library-{uuid.uuid4().hex[:12]}"
    _s3_client(moto_url).create_bucket(Bucket=bucket)
    s3 = Store("s3", _s3_settings(moto_url, bucket), list)
    runtime = make_runtime(sqlite_url, s3, library_link_ttl_seconds=90)
    hub_admin = token("hub-admin")
    async with running(runtime) as client:
        pid = await _new_programme(client, programme_body, hub_admin)
        added = await client.post(
            f"/v1/programmes/{pid}/materials",
            headers=hub_admin,
            **_upload("recording", "Talk", MP4, "video/mp4"),
        )
        redirect = await client.get(
            f"/v1/materials/{added.json()['id']}/download", headers=hub_admin
        )
    location = redirect.headers["location"]
    assert location.startswith(moto_url + "/" + bucket + "/programmes/")
    query = parse_qs(urlsplit(location).query)
    # SigV4 query signing: the expiry is part of what is signed. (moto 5.2 does not refuse an
    # expired presigned URL, so the refusal itself is AWS's or the S3 server's to enforce.)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert 85 <= int(query["X-Amz-Expires"][0]) <= 90
    assert len(query["X-Amz-Signature"][0]) == 64
    async with httpx.AsyncClient() as outside:
        fetched = await outside.get(location)
    assert fetched.status_code == 200
    assert fetched.content == MP4


async def _chunked(body: bytes, sent: list[int], size: int = 16 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        sent.append(start + size)
        yield body[start : start + size]


async def test_bad_uploads_are_refused_and_leave_nothing_behind(
    js: JetStreamContext,
    sqlite_url: str,
    store: Store,
    make_runtime: Callable[..., SchedulingRuntime],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = make_runtime(
        sqlite_url, store, library_max_file_bytes=8192, library_max_recording_bytes=65536
    )
    staff = token("hub-admin")
    async with running(runtime) as client:
        pid = await _new_programme(client, programme_body, staff)
        url = f"/v1/programmes/{pid}/materials"

        too_big = await client.post(
            url, headers=staff, **_upload("slides", "Big deck", PDF, "application/pdf")
        )
        assert too_big.status_code == 413, too_big.text
        assert "at most 8192 bytes" in too_big.json()["detail"]
        assert too_big.json()["errors"][0]["field"] == "file"

        # Streamed without a Content-Length: reading stops soon after the limit.
        boundary = "echo-boundary"
        big = b"%PDF-1.7\n" + b"0" * 2_000_000
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nslides\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nDeck\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                'filename="deck.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
            ).encode()
            + big
            + f"\r\n--{boundary}--\r\n".encode()
        )
        sent: list[int] = []
        streamed = await client.post(
            url,
            headers={**staff, "content-type": f"multipart/form-data; boundary={boundary}"},
            content=_chunked(body, sent),
        )
        assert streamed.status_code == 413, streamed.text
        assert max(sent) < 200_000  # of 2 MB: the rest was never read

        recording_too_big = await client.post(
            url,
            headers=staff,
            **_upload("recording", "Long", MP4 + os.urandom(40_000), "video/mp4"),
        )
        assert recording_too_big.status_code == 413

        wrong_type = await client.post(
            url, headers=staff, **_upload("slides", "Picture", PNG, "image/png")
        )
        assert wrong_type.status_code == 415
        assert "pdf" in wrong_type.json()["detail"] and "pptx" in wrong_type.json()["detail"]

        lying = await client.post(
            url, headers=staff, **_upload("document", "Not a PDF", PNG, "application/pdf")
        )
        assert lying.status_code == 415
        assert "not a pdf" in lying.json()["detail"]

        audio_as_slides = await client.post(
            url, headers=staff, **_upload("slides", "Audio", MP4[:4000], "video/mp4")
        )
        assert audio_as_slides.status_code == 415

        async def field_of(response: httpx.Response) -> set[str]:
            assert response.status_code == 422, response.text
            return {e["field"] for e in response.json()["errors"]}

        unknown_session = await client.post(
            url,
            headers=staff,
            **_upload(
                "slides", "Deck", PDF[:4000], "application/pdf", session_id=str(uuid.uuid4())
            ),
        )
        assert await field_of(unknown_session) == {"session_id"}
        no_title = await client.post(
            url,
            headers=staff,
            data={"kind": "slides"},
            files={"file": ("d.pdf", PDF[:4000], "application/pdf")},
        )
        assert await field_of(no_title) == {"title"}
        bad_language = await client.post(
            url,
            headers=staff,
            **_upload("slides", "Deck", PDF[:4000], "application/pdf", language="English"),
        )
        assert await field_of(bad_language) == {"language"}
        no_file = await client.post(url, headers=staff, data={"kind": "slides", "title": "Deck"})
        assert await field_of(no_file) == {"file"}
        empty = await client.post(
            url, headers=staff, **_upload("slides", "Deck", b"", "application/pdf")
        )
        assert await field_of(empty) == {"file"}
        ftp = await client.post(
            url,
            headers=staff,
            json={"kind": "link", "title": "Mirror", "url": "ftp://example.org/file"},
        )
        assert await field_of(ftp) == {"url"}
        assert "http" in ftp.json()["detail"]
        json_file = await client.post(
            url, headers=staff, json={"kind": "slides", "title": "Deck", "url": "https://x.org"}
        )
        assert await field_of(json_file) == {"kind"}
        not_a_form = await client.post(url, headers=staff, content=b"x", params={})
        assert not_a_form.status_code == 415

        listed = (await client.get(url, headers=staff)).json()
        await eventually(lambda: drained(runtime))
        events = await stream_events(js, "ECHO_ONTARIO", "echo.ontario.scheduling.material")

    assert listed["total"] == 0
    assert store.files() == []
    assert events == []


async def test_a_failed_database_write_deletes_the_stored_file(
    js: JetStreamContext,
    database_url: str,
    store: Store,
    make_runtime: Callable[..., SchedulingRuntime],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = make_runtime(database_url, store)
    staff = token("hub-admin")
    async with running(runtime) as client:
        pid = await _new_programme(client, programme_body, staff)
        # A real failure of the insert: the table is gone.
        async with runtime.db.transaction() as session:
            await session.execute(sa.text("DROP TABLE materials"))
        with pytest.raises(Exception, match="materials"):
            await client.post(
                f"/v1/programmes/{pid}/materials",
                headers=staff,
                **_upload("slides", "Deck", PDF, "application/pdf"),
            )
        assert store.files() == []


async def test_a_failed_store_write_records_nothing(
    js: JetStreamContext,
    sqlite_url: str,
    tmp_path: Path,
    make_runtime: Callable[..., SchedulingRuntime],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the library directory should be")
    runtime = make_runtime(sqlite_url, Store("local", {"library_dir": blocked}, list))
    staff = token("hub-admin")
    async with running(runtime) as client:
        pid = await _new_programme(client, programme_body, staff)
        failed = await client.post(
            f"/v1/programmes/{pid}/materials",
            headers=staff,
            **_upload("slides", "Deck", PDF, "application/pdf"),
        )
        assert failed.status_code == 503
        assert "try again" in failed.json()["detail"]
        assert (await client.get(f"/v1/programmes/{pid}/materials", headers=staff)).json()[
            "total"
        ] == 0
        await eventually(lambda: drained(runtime))
        events = await stream_events(js, "ECHO_ONTARIO", "echo.ontario.scheduling.material")
    assert events == []


async def test_search_finds_titles_and_curriculum_topics_of_one_programme_only(
    js: JetStreamContext,
    database_url: str,
    tmp_path: Path,
    make_runtime: Callable[..., SchedulingRuntime],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = make_runtime(database_url, Store("local", {"library_dir": tmp_path / "lib"}, list))
    staff = token("hub-admin")
    coordinator = uuid.uuid4()
    team = [{"person_id": str(coordinator), "name": "Hub coordinator", "role": "it_support"}]
    async with running(runtime) as client:
        created = await client.post(
            "/v1/programmes", json=_programme(programme_body, hub_team=team), headers=staff
        )
        assert created.status_code == 201, created.text
        pid = created.json()["id"]
        other = await _new_programme(client, programme_body, staff)
        sessions = (await client.get(f"/v1/programmes/{pid}/sessions", headers=staff)).json()
        tapering_session = next(
            s["id"] for s in sessions["items"] if s["agenda"]["didactic_topic"].startswith("Opioid")
        )

        async def add(programme: str, title: str, session_id: str | None = None) -> str:
            body: dict[str, Any] = {"kind": "link", "title": title, "url": "https://example.org/"}
            if session_id:
                body["session_id"] = session_id
            made = await client.post(
                f"/v1/programmes/{programme}/materials", json=body, headers=staff
            )
            assert made.status_code == 201, made.text
            return str(made.json()["id"])

        by_title = await add(pid, "A TAPERING calculator")
        by_session = await add(pid, "Week one slides", tapering_session)
        await add(pid, "Naloxone kits")
        accented = await add(pid, "Ärztliche Übersicht")
        await add(other, "Tapering in the other programme")

        found = await client.get(
            f"/v1/programmes/{pid}/library/search", params={"q": "taper"}, headers=staff
        )
        assert found.status_code == 200, found.text
        hits = found.json()["items"]
        unicode = (
            await client.get(
                f"/v1/programmes/{pid}/library/search", params={"q": "übersicht"}, headers=staff
            )
        ).json()["items"]
        none = (
            await client.get(
                f"/v1/programmes/{pid}/library/search", params={"q": "dermatology"}, headers=staff
            )
        ).json()
        short = await client.get(
            f"/v1/programmes/{pid}/library/search", params={"q": "a"}, headers=staff
        )
        # On the hub team (any role of the region): may read, may not add.
        on_team = token("observer", subject=str(coordinator))
        team_read = await client.get(
            f"/v1/programmes/{pid}/library/search", params={"q": "taper"}, headers=on_team
        )
        team_add = await client.post(
            f"/v1/programmes/{pid}/materials",
            json={"kind": "link", "title": "x", "url": "https://example.org/"},
            headers=on_team,
        )
        outsider = await client.get(
            f"/v1/programmes/{pid}/library/search",
            params={"q": "taper"},
            headers=token("spoke", subject=str(uuid.uuid4())),
        )

    materials = {h["material"]["id"]: h["matched"] for h in hits if h["type"] == "material"}
    assert materials == {by_title: "title", by_session: "session_topic"}
    assert [h["title"] for h in hits if h["type"] == "topic"] == ["Opioid tapering in primary care"]
    assert [h["session_id"] for h in hits if h["type"] == "session"] == [tapering_session]
    assert [h["material"]["id"] for h in unicode if h["type"] == "material"] == [accented]
    assert none["total"] == 0
    assert short.status_code == 422
    assert outsider.status_code == 403
    assert team_read.status_code == 200
    assert team_add.status_code == 403


async def test_large_files_stream_in_parts_past_the_service_body_limit(
    js: JetStreamContext,
    sqlite_url: str,
    store: Store,
    make_runtime: Callable[..., SchedulingRuntime],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    # 17 MB: three S3 multipart parts; far over the service-wide body limit of other routes.
    recording = b"\x00\x00\x00\x18ftypmp42" + os.urandom(17 * 1024 * 1024)
    runtime = make_runtime(
        sqlite_url, store, max_body_bytes=4096, library_max_recording_bytes=20_000_000
    )
    staff = token("hub-admin")
    async with running(runtime) as client:
        big_json = await client.post(
            "/v1/programmes",
            json=_programme(programme_body, title="x" * 200) | {"pad": "y" * 5000},
            headers=staff,
        )
        assert big_json.status_code == 413  # other routes keep the service-wide limit
        pid = await _new_programme(client, programme_body, staff)
        added = await client.post(
            f"/v1/programmes/{pid}/materials",
            headers=staff,
            **_upload("recording", "Full session", recording, "video/mp4"),
        )
        assert added.status_code == 201, added.text
        assert added.json()["size_bytes"] == len(recording)
        assert added.json()["sha256"] == hashlib.sha256(recording).hexdigest()
        location = (
            await client.get(f"/v1/materials/{added.json()['id']}/download", headers=staff)
        ).headers["location"]
        fetched = await _follow(client, location)
        assert fetched.status_code == 200
        assert fetched.content == recording

        over = await client.post(
            f"/v1/programmes/{pid}/materials",
            headers=staff,
            **_upload("recording", "Too long", recording + os.urandom(4_000_000), "video/mp4"),
        )
        assert over.status_code == 413
    # The refused one left no object and no unfinished multipart upload.
    assert store.files() == [f"programmes/{pid}/{added.json()['id']}"]
