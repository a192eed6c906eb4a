"""The library's rules without I/O: file types by declaration and by bytes, links, signed links,
the streaming multipart reader, and the settings that refuse development secrets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from echo_contracts.events import MaterialKind
from echo_runtime.problems import Problem
from echo_scheduling.adapters.storage import LinkSigner
from echo_scheduling.domain.errors import InvalidMaterial, UnsupportedFileType
from echo_scheduling.domain.library import (
    DOCX,
    M4A,
    MP3,
    MP4,
    ODT,
    PDF,
    PPTX,
    TXT,
    WEBM,
    SizeLimits,
    check_declared_type,
    check_link,
    matches_magic,
    material_id_of_key,
    storage_key,
)
from echo_scheduling.entrypoints.library_http import byte_range
from echo_scheduling.entrypoints.uploads import read_fields_then_file
from echo_scheduling.settings import DEV_LIBRARY_SECRET, SchedulingSettings
from pydantic import ValidationError

ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00"
ODT_HEAD = (
    b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/vnd.oasis.opendocument.textPK\x03\x04"
)
DOCX_HEAD = ZIP + b"\x00" * 20 + b"[Content_Types].xml"


@pytest.mark.parametrize(
    ("content_type", "head", "expected"),
    [
        (PDF, b"%PDF-1.4\n...", True),
        (PDF, b"<html>not a pdf", False),
        (DOCX, DOCX_HEAD, True),
        (DOCX, ODT_HEAD, False),  # an OpenDocument file declared as Word
        (ODT, ODT_HEAD, True),
        (ODT, DOCX_HEAD, False),
        (TXT, "Notes: douleur chronique, 慢性疼痛\n".encode(), True),
        (TXT, "cut in the middle: é".encode()[:-1], True),
        (TXT, b"binary\x00data", False),
        (MP4, b"\x00\x00\x00\x18ftypmp42", True),
        (M4A, b"\x00\x00\x00\x20ftypM4A ", True),
        (MP4, b"\x1a\x45\xdf\xa3webm", False),
        (WEBM, b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", True),
        (MP3, b"ID3\x04\x00", True),
        (MP3, b"\xff\xfb\x90\x64", True),
        (MP3, b"RIFF....WAVE", False),
    ],
)
def test_a_file_is_recognised_by_its_first_bytes(
    content_type: str, head: bytes, expected: bool
) -> None:
    assert matches_magic(content_type, head) is expected


def test_declared_types_are_checked_per_kind_with_a_message_naming_what_is_allowed() -> None:
    assert check_declared_type(MaterialKind.RECORDING, "audio/x-m4a") == M4A
    assert check_declared_type(MaterialKind.SLIDES, "Application/PDF; name=x") == PDF
    with pytest.raises(UnsupportedFileType) as refused:
        check_declared_type(MaterialKind.SLIDES, "image/png")
    assert "pdf" in str(refused.value) and "pptx" in str(refused.value)
    assert "image/png" in str(refused.value)
    with pytest.raises(UnsupportedFileType):
        check_declared_type(MaterialKind.DOCUMENT, "video/mp4")
    with pytest.raises(UnsupportedFileType):
        check_declared_type(MaterialKind.RECORDING, None)
    with pytest.raises(InvalidMaterial):
        check_declared_type(MaterialKind.LINK, "text/plain")
    # A generic declaration falls back to the file name; a specific one is taken as declared.
    assert check_declared_type(MaterialKind.SLIDES, "application/octet-stream", "a.PPTX") == PPTX
    assert check_declared_type(MaterialKind.DOCUMENT, None, "notes.txt") == TXT
    with pytest.raises(UnsupportedFileType):
        check_declared_type(MaterialKind.SLIDES, "application/octet-stream", "a.exe")
    with pytest.raises(UnsupportedFileType):
        check_declared_type(MaterialKind.SLIDES, "image/png", "a.pdf")


def test_links_must_be_http_or_https_with_a_host() -> None:
    assert check_link("https://example.org/a?b=c") == "https://example.org/a?b=c"
    for bad in ("ftp://example.org/f", "javascript:alert(1)", "https://", "example.org"):
        with pytest.raises(InvalidMaterial) as refused:
            check_link(bad)
        assert refused.value.field == "url"


def test_size_limits_per_kind() -> None:
    limits = SizeLimits(recording=500, other=50)
    assert limits.for_kind(MaterialKind.RECORDING) == 500
    assert limits.for_kind(MaterialKind.SLIDES) == 50
    assert limits.largest == 500


def test_storage_keys_end_with_the_material_id() -> None:
    programme, material = uuid.uuid4(), uuid.uuid4()
    assert material_id_of_key(storage_key(programme, material)) == material


def test_a_signed_link_is_refused_once_expired_altered_or_moved_to_another_item() -> None:
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    clock = [now]
    signer = LinkSigner(b"k" * 32, clock=lambda: clock[0])
    material = uuid.uuid4()
    expires = int((now + timedelta(minutes=5)).timestamp())
    signature = signer.signature(material, expires)
    assert signer.valid(material, expires, signature)
    assert not signer.valid(material, expires + 60, signature)
    assert not signer.valid(uuid.uuid4(), expires, signature)
    assert not signer.valid(material, expires, "é" * 64)
    assert not LinkSigner(b"x" * 32, clock=lambda: now).valid(material, expires, signature)
    clock[0] = now + timedelta(minutes=5)
    assert not signer.valid(material, expires, signature)
    assert signer.url(material, now).startswith(f"/v1/library/files/{material}?expires=")


def _multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0undary") -> bytes:
    out = b""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename:
            out += b"Content-Type: application/pdf\r\n"
        out += b"\r\n" + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


async def _bytewise(body: bytes) -> AsyncIterator[bytes]:
    for n in range(len(body)):
        yield body[n : n + 1]


async def _collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])


CONTENT_TYPE = "multipart/form-data; boundary=b0undary"


async def test_the_reader_gives_fields_then_streams_the_file_even_one_byte_at_a_time() -> None:
    body = _multipart(
        [
            ("kind", None, b"slides"),
            ("title", None, "Tapering — séance 1".encode()),
            ("file", "deck.pdf", b"%PDF-1.7\r\n--b0und not a boundary\r\n%%EOF"),
        ]
    )
    fields, part = await read_fields_then_file(_bytewise(body), CONTENT_TYPE)
    assert fields == {"kind": "slides", "title": "Tapering — séance 1"}
    assert part is not None
    assert part.content_type == "application/pdf"
    assert part.filename == "deck.pdf"
    assert await _collect(part.chunks) == b"%PDF-1.7\r\n--b0und not a boundary\r\n%%EOF"


async def test_the_reader_refuses_parts_after_the_file_and_broken_bodies() -> None:
    late = _multipart([("file", "d.pdf", b"%PDF-"), ("title", None, b"late")])
    _, part = await read_fields_then_file(_bytewise(late), CONTENT_TYPE)
    assert part is not None
    with pytest.raises(InvalidMaterial, match="last part"):
        await _collect(part.chunks)

    cut = _multipart([("kind", None, b"slides"), ("file", "d.pdf", b"%PDF-")])[:-12]
    _, part = await read_fields_then_file(_bytewise(cut), CONTENT_TYPE)
    assert part is not None
    with pytest.raises(InvalidMaterial, match="ended before"):
        await _collect(part.chunks)

    with pytest.raises(InvalidMaterial, match="boundary"):
        await read_fields_then_file(_bytewise(b""), "multipart/form-data")

    huge = _multipart([("title", None, b"x" * 5000)])
    with pytest.raises(InvalidMaterial) as too_long:
        await read_fields_then_file(_bytewise(huge), CONTENT_TYPE)
    assert too_long.value.field == "title"


def test_production_refuses_the_development_signing_secret_and_never_uses_it() -> None:
    with pytest.raises(ValidationError, match="LIBRARY_SIGNING_SECRET"):
        SchedulingSettings(
            environment="production",
            auth_jwks_json='{"keys": []}',
            library_signing_secret=DEV_LIBRARY_SECRET,
        )
    assert SchedulingSettings().library_signing_secret == DEV_LIBRARY_SECRET
    with pytest.raises(ValidationError, match="LIBRARY_S3_BUCKET"):
        SchedulingSettings(library_storage="s3")


def test_production_with_the_local_store_refuses_to_start_without_a_shared_signing_secret() -> None:
    # a per-process secret would make a link signed by one replica fail on the next one
    with pytest.raises(ValidationError) as refused:
        SchedulingSettings(environment="production", auth_jwks_json='{"keys": []}')
    message = str(refused.value)
    assert "SCHEDULING_LIBRARY_SIGNING_SECRET" in message
    assert "every replica" in message
    assert "LIBRARY_S3_DOWNLOADS=presigned" in message
    shared = "a-random-secret-shared-by-all-replicas"
    one, two = (
        SchedulingSettings(
            environment="production",
            auth_jwks_json='{"keys": []}',
            library_signing_secret=shared,
        )
        for _ in range(2)
    )
    assert one.library_signing_key == two.library_signing_key == shared.encode()
    # a link signed by one replica is accepted by another
    material = uuid.uuid4()
    expires = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    signature = LinkSigner(one.library_signing_key).signature(material, expires)
    assert LinkSigner(two.library_signing_key).valid(material, expires, signature)
    with pytest.raises(ValidationError, match="at least 16 characters"):
        SchedulingSettings(
            environment="production", auth_jwks_json='{"keys": []}', library_signing_secret="short"
        )


def test_production_with_the_s3_store_needs_no_signing_secret() -> None:
    made = SchedulingSettings(
        environment="production",
        auth_jwks_json='{"keys": []}',
        library_storage="s3",
        library_s3_bucket="echo-library",
    )
    assert made.library_storage == "s3"
    assert made.library_signing_secret not in (None, DEV_LIBRARY_SECRET)
    with pytest.raises(ValidationError, match="LIBRARY_S3_BUCKET"):
        SchedulingSettings(
            environment="production", auth_jwks_json='{"keys": []}', library_storage="s3"
        )
    # S3 files behind the service's own links: the replicas must share the signing secret
    with pytest.raises(ValidationError, match="SCHEDULING_LIBRARY_SIGNING_SECRET"):
        SchedulingSettings(
            environment="production",
            auth_jwks_json='{"keys": []}',
            library_storage="s3",
            library_s3_bucket="echo-library",
            library_s3_downloads="service",
        )


def test_the_local_library_lives_in_the_data_dir_when_one_is_given(tmp_path: Path) -> None:
    assert SchedulingSettings(data_dir=tmp_path).library_dir == tmp_path / "library"
    assert SchedulingSettings(public_url="http://h:1").library_public_url == "http://h:1"


def test_byte_ranges_of_a_download() -> None:
    assert byte_range(None, 100) is None
    assert byte_range("bytes=0-9", 100) == (0, 9)
    assert byte_range("bytes=90-", 100) == (90, 99)
    assert byte_range("bytes=90-500", 100) == (90, 99)
    assert byte_range("bytes=-10", 100) == (90, 99)
    assert byte_range("bytes=0-1,5-6", 100) is None  # several ranges: the whole file
    assert byte_range("items=0-1", 100) is None
    for unsatisfiable in ("bytes=100-", "bytes=5-1"):
        with pytest.raises(Problem) as refused:
            byte_range(unsatisfiable, 100)
        assert refused.value.status == 416
