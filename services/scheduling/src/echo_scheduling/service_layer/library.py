"""Use cases of the session library: add a file or a link, remove, sign a download, search.

A file is stored first and recorded second: a failed store leaves no row, and a failed record
deletes the stored file, so neither an orphan file nor a row without its file remains.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from echo_contracts import MaterialAdded, MaterialRemoved
from echo_contracts.events import MaterialKind
from echo_runtime.logging import get_logger
from echo_runtime.service import ServiceRuntime

from echo_scheduling.adapters.library_repository import SqlaMaterialRepository, fold
from echo_scheduling.domain.errors import FileTooLarge, InvalidMaterial, MaterialNotFound
from echo_scheduling.domain.library import (
    SNIFF_BYTES,
    Material,
    SizeLimits,
    check_declared_type,
    check_link,
    check_magic,
    storage_key,
    too_large,
    upload_name,
)
from echo_scheduling.domain.model import Programme, Topic
from echo_scheduling.service_layer.ports import MaterialStorage

log = get_logger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Library:
    """What the library's use cases need besides the database: storage, limits, link lifetime."""

    storage: MaterialStorage
    limits: SizeLimits
    link_ttl: timedelta
    clock: Callable[[], datetime] = field(default=_now)


@dataclass(frozen=True)
class AddFile:
    programme: Programme
    kind: MaterialKind
    title: str
    language: str
    declared_type: str | None
    added_by: str
    session_id: uuid.UUID | None = None
    filename: str | None = None


@dataclass(frozen=True)
class AddLink:
    programme: Programme
    title: str
    language: str
    url: str
    added_by: str
    session_id: uuid.UUID | None = None


async def check_session(
    runtime: ServiceRuntime, programme: Programme, session_id: uuid.UUID
) -> None:
    """Refuse a session that is not one of the programme's."""
    async with runtime.db.session() as session:
        found = await SqlaMaterialRepository(session).session_in_programme(session_id, programme.id)
    if not found:
        raise InvalidMaterial(
            f"session_id: programme {programme.id} has no session {session_id};"
            " list them at GET /v1/programmes/{id}/sessions",
            field="session_id",
        )


async def _sniffed(
    chunks: AsyncIterator[bytes], kind: MaterialKind, content_type: str
) -> AsyncIterator[bytes]:
    """The same bytes, once the first ones proved the declared type (else nothing is stored)."""
    head = bytearray()
    async for chunk in chunks:
        head.extend(chunk)
        if len(head) >= SNIFF_BYTES:
            break
    if not head:
        raise InvalidMaterial("file: the file is empty", field="file")
    check_magic(kind, content_type, bytes(head[:SNIFF_BYTES]))

    async def rest() -> AsyncIterator[bytes]:
        yield bytes(head)
        async for chunk in chunks:
            yield chunk

    return rest()


async def add_file(
    runtime: ServiceRuntime, library: Library, cmd: AddFile, chunks: AsyncIterator[bytes]
) -> Material:
    """Check, stream to storage and record an uploaded file; emit `MaterialAdded`."""
    content_type = check_declared_type(cmd.kind, cmd.declared_type, cmd.filename)
    if cmd.session_id is not None:
        await check_session(runtime, cmd.programme, cmd.session_id)
    data = await _sniffed(chunks, cmd.kind, content_type)
    material_id = uuid.uuid4()
    key = storage_key(cmd.programme.id, material_id)
    limit = library.limits.for_kind(cmd.kind)
    try:
        stored = await library.storage.put(key, data, content_type=content_type, max_bytes=limit)
    except FileTooLarge:
        raise too_large(cmd.kind, limit) from None
    material = Material(
        id=material_id,
        programme_id=cmd.programme.id,
        session_id=cmd.session_id,
        kind=cmd.kind,
        title=cmd.title,
        language=cmd.language,
        size_bytes=stored.size_bytes,
        content_type=content_type,
        sha256=stored.sha256,
        storage_key=key,
        filename=upload_name(cmd.filename),
        added_by=cmd.added_by,
        added_at=library.clock(),
    )
    try:
        await _record(runtime, cmd.programme, material)
    except BaseException:
        await library.storage.delete(key)
        log.warning("material_upload_rolled_back", material_id=str(material_id))
        raise
    return material


async def add_link(runtime: ServiceRuntime, library: Library, cmd: AddLink) -> Material:
    """Record a link (no file); emit `MaterialAdded`."""
    url = check_link(cmd.url)
    if cmd.session_id is not None:
        await check_session(runtime, cmd.programme, cmd.session_id)
    material = Material(
        id=uuid.uuid4(),
        programme_id=cmd.programme.id,
        session_id=cmd.session_id,
        kind=MaterialKind.LINK,
        title=cmd.title,
        language=cmd.language,
        url=url,
        added_by=cmd.added_by,
        added_at=library.clock(),
    )
    await _record(runtime, cmd.programme, material)
    return material


async def _record(runtime: ServiceRuntime, programme: Programme, material: Material) -> None:
    async with runtime.db.transaction() as session:
        await SqlaMaterialRepository(session).add(material)
        await runtime.emit(
            session,
            programme.region,
            MaterialAdded(
                material_id=material.id,
                programme_id=material.programme_id,
                session_id=material.session_id,
                kind=material.kind,
                language=material.language,
                size_bytes=material.size_bytes,
            ),
        )
    log.info(
        "material_added",
        material_id=str(material.id),
        programme_id=str(material.programme_id),
        kind=material.kind.value,
        size_bytes=material.size_bytes,
    )


async def remove_material(
    runtime: ServiceRuntime, library: Library, programme: Programme, material: Material
) -> None:
    """Withdraw an item: flag its row, emit `MaterialRemoved`, then delete its file."""
    async with runtime.db.transaction() as session:
        if not await SqlaMaterialRepository(session).mark_removed(material.id, library.clock()):
            raise MaterialNotFound(f"material {material.id} was already removed")
        await runtime.emit(
            session,
            programme.region,
            MaterialRemoved(
                material_id=material.id,
                programme_id=material.programme_id,
                session_id=material.session_id,
                kind=material.kind,
            ),
        )
    if material.storage_key is not None:
        # After the commit: a failure here leaves a file nobody can reach (no live row), never
        # a live row without its file; the withdrawal stands either way.
        try:
            await library.storage.delete(material.storage_key)
        except Exception as exc:
            log.error(
                "material_file_not_deleted", material_id=str(material.id), error=type(exc).__name__
            )
    log.info("material_removed", material_id=str(material.id))


async def download_url(library: Library, material: Material) -> tuple[str, datetime]:
    """Where to download the item, and until when that address works."""
    if material.url is not None:
        return material.url, library.clock() + library.link_ttl
    if material.storage_key is None:
        raise MaterialNotFound(f"material {material.id} has no file")
    expires_at = library.clock() + library.link_ttl
    return await library.storage.signed_url(material.storage_key, expires_at), expires_at


@dataclass(frozen=True)
class LibrarySearch:
    """What matched a search: items, sessions by their didactic topic, curriculum topics."""

    materials: list[tuple[Material, str]]
    sessions: list[tuple[uuid.UUID, str]]
    topics: list[Topic]


async def search_library(runtime: ServiceRuntime, programme: Programme, term: str) -> LibrarySearch:
    """Search a programme's library by item title and by curriculum topic, in any case.

    An item matches on its title, or through its session when that session's didactic topic
    matches; curriculum topics and sessions that match are returned too.
    """
    needle = fold(term)
    topics = [t for t in programme.curriculum if needle in fold(t.title)]
    async with runtime.db.session() as session:
        repo = SqlaMaterialRepository(session)
        matching_sessions = [
            (sid, topic)
            for sid, topic in await repo.session_topics(programme.id)
            if needle in fold(topic)
        ]
        found = await repo.search(programme.id, term, [sid for sid, _ in matching_sessions])
    return LibrarySearch(
        materials=[(m, "title" if needle in fold(m.title) else "session_topic") for m in found],
        sessions=matching_sessions,
        topics=topics,
    )


async def is_registered(
    runtime: ServiceRuntime, programme_id: uuid.UUID, participant_id: uuid.UUID
) -> bool:
    """True when the participant is registered to the programme."""
    async with runtime.db.session() as session:
        return await SqlaMaterialRepository(session).is_member(programme_id, participant_id)


async def get_material(runtime: ServiceRuntime, material_id: uuid.UUID) -> Material:
    """A live item; `MaterialNotFound` when unknown or removed."""
    async with runtime.db.session() as session:
        found = await SqlaMaterialRepository(session).get(material_id)
    if found is None or found.removed:
        raise MaterialNotFound(f"no material {material_id} in the library")
    return found
