"""REST API of the session library.

Who may do what (network-admin everywhere):
- add and remove items: hub-admin, facilitator and expert of the programme's region (and
  programme, when the token lists programmes);
- list, search, read and download: those, plus anyone of the region on the programme's hub
  team (token subject = a hub team person id) and `spoke` tokens whose subject is a participant
  registered to the programme (learnt from attendance's `RegistrationConfirmed`).
Everyone else gets 403 naming what they lack; an unknown programme or item is a 404.

Downloads: `GET /v1/materials/{id}/download` answers 307 to a short-lived signed URL: an S3
presigned GET, or this service's own `GET /v1/library/files/{id}?expires&signature` (no token
needed; 403 once expired or altered).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qsl

from echo_contracts.events import MaterialKind
from echo_contracts.types import LanguageTag
from echo_runtime.auth import CurrentPrincipal, Principal, Role
from echo_runtime.disposition import content_disposition
from echo_runtime.inputs import InputModel, Line, check_line
from echo_runtime.pagination import Page, PageDep
from echo_runtime.problems import Problem, validation_problem
from echo_runtime.service import RuntimeDep, ServiceRuntime
from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from echo_scheduling.adapters.library_repository import SqlaMaterialRepository
from echo_scheduling.adapters.repository import SqlaProgrammeRepository
from echo_scheduling.adapters.storage import LinkSigner
from echo_scheduling.domain.errors import InvalidMaterial, MaterialNotFound
from echo_scheduling.domain.library import SHORT_NAMES, Material
from echo_scheduling.domain.model import Programme
from echo_scheduling.entrypoints.uploads import read_fields_then_file
from echo_scheduling.service_layer.library import (
    AddFile,
    AddLink,
    Library,
    add_file,
    add_link,
    download_url,
    get_material,
    is_registered,
    remove_material,
    search_library,
)

router = APIRouter(prefix="/v1", tags=["library"])

#: Who adds and removes library items (network-admin always may).
LIBRARY_STAFF = (Role.HUB_ADMIN, Role.FACILITATOR, Role.EXPERT)


Title = Annotated[Line, Field(min_length=1, max_length=200)]
Address = Annotated[Line, Field(min_length=1, max_length=2000)]


def library_of(runtime: ServiceRuntime) -> Library:
    library: Library | None = getattr(runtime, "library", None)
    if library is None:
        raise Problem(503, "Service Unavailable", "the library is not configured here")
    return library


async def _programme(runtime: ServiceRuntime, programme_id: uuid.UUID) -> Programme:
    async with runtime.db.session() as session:
        programme = await SqlaProgrammeRepository(session).get(programme_id)
    if programme is None:
        raise Problem(404, "Not Found", f"no programme {programme_id}")
    return programme


async def check_access(
    runtime: ServiceRuntime, principal: Principal, programme: Programme, *, write: bool
) -> None:
    """403 unless the caller is library staff, or (to read) hub team or registered."""
    if principal.allows(LIBRARY_STAFF, programme.region, programme.id):
        return
    scoped = principal.in_region(programme.region) and principal.in_programme(programme.id)
    if not scoped:
        raise Problem(
            403,
            "Forbidden",
            f"programme {programme.id} is in region {programme.region!r}, which your token"
            " does not cover; ask a hub-admin of that region for access",
        )
    if write:
        raise Problem(
            403,
            "Forbidden",
            "adding or removing library items needs one of the roles"
            f" {sorted(r.value for r in LIBRARY_STAFF)} in region {programme.region!r}",
        )
    if principal.subject_id in {m.person_id for m in programme.hub_team}:
        return
    if Role.SPOKE in principal.roles and await is_registered(
        runtime, programme.id, principal.subject_id
    ):
        return
    raise Problem(
        403,
        "Forbidden",
        "only the programme's hub team and its registered participants may read its library;"
        " register to the programme first (POST /v1/programmes/{id}/registrations)",
    )


class MaterialOut(BaseModel):
    id: uuid.UUID
    programme_id: uuid.UUID
    session_id: uuid.UUID | None
    kind: MaterialKind
    title: str
    language: str
    size_bytes: int
    content_type: str | None
    file_type: str | None = Field(description="pdf, pptx, mp4, ... (None for links)")
    sha256: str | None
    url: str | None = Field(description="the address of a link (None for files)")
    filename: str | None = Field(
        default=None, description="the name the file was uploaded with (None for links)"
    )
    added_by: str
    added_at: datetime
    download: str = Field(description="GET it (with your token) for a 307 to a signed URL")

    @classmethod
    def of(cls, m: Material) -> MaterialOut:
        return cls(
            id=m.id,
            programme_id=m.programme_id,
            session_id=m.session_id,
            kind=m.kind,
            title=m.title,
            language=m.language,
            size_bytes=m.size_bytes,
            content_type=m.content_type,
            file_type=SHORT_NAMES.get(m.content_type or ""),
            sha256=m.sha256,
            url=m.url,
            filename=m.filename,
            added_by=m.added_by,
            added_at=m.added_at,
            download=f"/v1/materials/{m.id}/download",
        )


class LinkIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["link"]
    title: Title
    language: LanguageTag = "en"
    url: Address = Field(examples=["https://example.org/guideline"])
    session_id: uuid.UUID | None = None


class FileFieldsIn(InputModel):
    """The text fields of a multipart upload (sent before the `file` part)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["slides", "document", "recording", "link"]
    title: Title
    language: LanguageTag = "en"
    session_id: uuid.UUID | None = None
    url: Address | None = None


_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["kind", "title", "file"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["slides", "document", "recording"]},
                        "title": {"type": "string", "minLength": 1, "maxLength": 200},
                        "language": {"type": "string", "default": "en"},
                        "session_id": {"type": "string", "format": "uuid"},
                        "file": {"type": "string", "format": "binary"},
                    },
                },
                "encoding": {"file": {"contentType": ", ".join(SHORT_NAMES)}},
            },
            "application/json": {"schema": LinkIn.model_json_schema()},
        },
    }
}


M = TypeVar("M", bound=BaseModel)

#: Largest body of a link (JSON or a plain form); the upload route lets files stream past the
#: service-wide body limit, so other bodies there are capped here.
MAX_LINK_BODY = 64 * 1024


async def _small_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_LINK_BODY:
            raise Problem(
                413,
                "Content Too Large",
                f"a link body may have at most {MAX_LINK_BODY} bytes",
            )
    return bytes(body)


async def _small_form(request: Request) -> dict[str, str]:
    try:
        text = (await _small_body(request)).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMaterial("body: the form is not UTF-8", field="body") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_problem([dict(e) for e in exc.errors()]) from None


@router.post(
    "/programmes/{programme_id}/materials",
    status_code=status.HTTP_201_CREATED,
    response_model=MaterialOut,
    openapi_extra=_UPLOAD_DOC,
    responses={
        413: {"description": "the file is larger than its kind allows"},
        415: {"description": "the file's declared type or content is not accepted"},
    },
)
async def post_material(
    programme_id: uuid.UUID, request: Request, principal: CurrentPrincipal, runtime: RuntimeDep
) -> MaterialOut:
    """Add a file (multipart: kind, title, language, session_id, then `file`) or a link (JSON).

    Slides take pdf, pptx, odp; documents pdf, docx, odt, txt; recordings mp4, webm, m4a, mp3.
    The file streams to storage and is refused (413) once past its kind's size limit.
    """
    library = library_of(runtime)
    programme = await _programme(runtime, programme_id)
    await check_access(runtime, principal, programme, write=True)
    content_type = request.headers.get("content-type", "")
    bare_type = content_type.split(";", 1)[0].strip().lower()
    if bare_type == "application/json":
        try:
            raw = json.loads(await _small_body(request))
        except (ValueError, UnicodeDecodeError):
            raise Problem(
                422,
                "Unprocessable Content",
                "body: not valid JSON",
                errors=[{"field": "body", "message": "not valid JSON"}],
            ) from None
        if isinstance(raw, dict) and raw.get("kind") in ("slides", "document", "recording"):
            raise InvalidMaterial(
                "kind: files are uploaded as multipart/form-data with a `file` part;"
                " JSON is for kind=link",
                field="kind",
            )
        link = _validated(LinkIn, raw)
        material = await add_link(
            runtime,
            library,
            AddLink(
                programme, link.title, link.language, link.url, principal.subject, link.session_id
            ),
        )
        return MaterialOut.of(material)
    if bare_type == "application/x-www-form-urlencoded":
        fields, part = await _small_form(request), None
    elif bare_type == "multipart/form-data":
        fields, part = await read_fields_then_file(request.stream(), content_type)
    else:
        raise Problem(
            415,
            "Unsupported Media Type",
            "send multipart/form-data (a file) or application/json (a link)",
        )
    meta = _validated(FileFieldsIn, fields)
    if meta.kind == "link":
        if part is not None:
            raise InvalidMaterial("file: a link carries no file", field="file")
        link = _validated(LinkIn, fields)
        material = await add_link(
            runtime,
            library,
            AddLink(
                programme, link.title, link.language, link.url, principal.subject, link.session_id
            ),
        )
        return MaterialOut.of(material)
    if part is None:
        raise InvalidMaterial("file: attach the file in a part named `file`", field="file")
    if meta.url is not None:
        raise InvalidMaterial("url: only links carry a url", field="url")
    material = await add_file(
        runtime,
        library,
        AddFile(
            programme=programme,
            kind=MaterialKind(meta.kind),
            title=meta.title,
            language=meta.language,
            declared_type=part.content_type,
            added_by=principal.subject,
            session_id=meta.session_id,
            filename=part.filename,
        ),
        part.chunks,
    )
    return MaterialOut.of(material)


@router.get("/programmes/{programme_id}/materials", response_model=Page[MaterialOut])
async def list_materials(
    programme_id: uuid.UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    session_id: Annotated[uuid.UUID | None, Query(description="only this session's")] = None,
    kind: Annotated[MaterialKind | None, Query(description="only this kind")] = None,
) -> Page[MaterialOut]:
    """The programme's library, newest first."""
    programme = await _programme(runtime, programme_id)
    await check_access(runtime, principal, programme, write=False)
    async with runtime.db.session() as session:
        items, total = await SqlaMaterialRepository(session).page(
            programme_id, page.limit, page.offset, session_id=session_id, kind=kind
        )
    return Page.of([MaterialOut.of(m) for m in items], total, page)


async def _material_for(
    runtime: ServiceRuntime, principal: Principal, material_id: uuid.UUID, *, write: bool
) -> tuple[Programme, Material]:
    material = await get_material(runtime, material_id)
    programme = await _programme(runtime, material.programme_id)
    await check_access(runtime, principal, programme, write=write)
    return programme, material


@router.get("/materials/{material_id}", response_model=MaterialOut)
async def get_one(
    material_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> MaterialOut:
    _, material = await _material_for(runtime, principal, material_id, write=False)
    return MaterialOut.of(material)


@router.get(
    "/materials/{material_id}/download",
    status_code=status.HTTP_307_TEMPORARY_REDIRECT,
    response_class=RedirectResponse,
    responses={307: {"description": "Location: a signed URL that works for a few minutes"}},
)
async def download(
    material_id: uuid.UUID, request: Request, principal: CurrentPrincipal, runtime: RuntimeDep
) -> RedirectResponse:
    """A 307 to a short-lived signed URL of the file (or to a link's address)."""
    library = library_of(runtime)
    _, material = await _material_for(runtime, principal, material_id, write=False)
    url, expires_at = await download_url(library, material)
    if url.startswith("/"):
        base = getattr(runtime.settings, "library_public_url", None) or str(request.base_url)
        url = base.rstrip("/") + url
    return RedirectResponse(
        url,
        status_code=status.HTTP_307_TEMPORARY_REDIRECT,
        headers={"cache-control": "no-store", "x-link-expires-at": expires_at.isoformat()},
    )


@router.delete("/materials/{material_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_one(
    material_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> Response:
    """Withdraw an item: its file is deleted and `MaterialRemoved` is published."""
    library = library_of(runtime)
    programme, material = await _material_for(runtime, principal, material_id, write=True)
    await remove_material(runtime, library, programme, material)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class LibraryHit(BaseModel):
    type: Literal["material", "session", "topic"]
    matched: Literal["title", "session_topic", "didactic_topic", "curriculum_topic"]
    title: str
    session_id: uuid.UUID | None = None
    position: int | None = Field(default=None, description="the curriculum topic's position")
    material: MaterialOut | None = None


@router.get("/programmes/{programme_id}/library/search", response_model=Page[LibraryHit])
async def search(
    programme_id: uuid.UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    q: Annotated[str, Query(min_length=2, max_length=100, description="words of a title or topic")],
) -> Page[LibraryHit]:
    """Items by title, and curriculum topics and sessions by topic (any case); items of a
    matching session come with it."""
    programme = await _programme(runtime, programme_id)
    await check_access(runtime, principal, programme, write=False)
    try:
        term = check_line(q.strip())
    except ValueError as exc:
        raise Problem(
            422,
            "Unprocessable Content",
            f"q: {exc}",
            errors=[{"field": "q", "message": str(exc)}],
        ) from None
    found = await search_library(runtime, programme, term)
    hits = [
        LibraryHit(type="topic", matched="curriculum_topic", title=t.title, position=t.position)
        for t in found.topics
    ]
    hits += [
        LibraryHit(type="session", matched="didactic_topic", title=topic, session_id=sid)
        for sid, topic in found.sessions
    ]
    hits += [
        LibraryHit(
            type="material",
            matched="title" if how == "title" else "session_topic",
            title=m.title,
            session_id=m.session_id,
            material=MaterialOut.of(m),
        )
        for m, how in found.materials
    ]
    window = hits[page.offset : page.offset + page.limit]
    return Page.of(window, len(hits), page)


# --------------------------------------------------------------------------- signed files


def _expired() -> Problem:
    return Problem(
        403,
        "Forbidden",
        "this download link has expired or is not valid: ask for a new one"
        " (GET /v1/materials/{id}/download)",
    )


@router.get(
    "/library/files/{material_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def signed_file(
    material_id: uuid.UUID,
    runtime: RuntimeDep,
    request: Request,
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
) -> StreamingResponse:
    """A stored file, for whoever holds an unexpired signed link (no token): the local store's,
    or the bucket's when S3 downloads go through the service."""
    library = library_of(runtime)
    storage = library.storage
    signer: LinkSigner | None = getattr(storage, "signer", None)
    if signer is None:
        raise Problem(404, "Not Found", "this deployment serves files from its object store")
    if not signer.valid(material_id, expires, signature):
        raise _expired()
    try:
        material = await get_material(runtime, material_id)
    except MaterialNotFound:
        raise Problem(404, "Not Found", f"material {material_id} was removed") from None
    if material.storage_key is None:
        raise Problem(404, "Not Found", f"material {material_id} has no file")
    size = material.size_bytes
    wanted = byte_range(request.headers.get("range"), size)
    start, end = wanted or (0, size - 1)
    chunks = storage.open(material.storage_key, start, end)
    try:
        first = await anext(chunks)
    except FileNotFoundError:
        raise Problem(404, "Not Found", f"the file of material {material_id} is missing") from None
    except StopAsyncIteration:
        first = b""
    # Recordings play in the browser (seeking sends ranges); documents are saved, not rendered
    # on this origin.
    disposition = "inline" if material.kind is MaterialKind.RECORDING else "attachment"
    extension = SHORT_NAMES.get(material.content_type or "", "bin")
    headers = {
        "content-length": str(max(0, end - start + 1)),
        "accept-ranges": "bytes",
        "content-disposition": content_disposition(
            disposition, material.filename or f"material-{material.id}.{extension}"
        ),
        "cache-control": "private, no-store",
        "x-content-type-options": "nosniff",
    }
    if wanted is not None:
        headers["content-range"] = f"bytes {start}-{end}/{size}"
    return StreamingResponse(
        _prepend(first, chunks),
        status_code=206 if wanted is not None else 200,
        media_type=material.content_type or "application/octet-stream",
        headers=headers,
    )


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for (inclusive), None for the whole file; 416 when unsatisfiable.

    Several ranges or a malformed header get the whole file, as RFC 9110 allows.
    """
    if not header:
        return None
    found = _RANGE.match(header.strip())
    if found is None or (not found[1] and not found[2]):
        return None
    if found[1]:
        start = int(found[1])
        end = min(int(found[2]), size - 1) if found[2] else size - 1
    else:  # a suffix: the last N bytes
        start, end = max(0, size - int(found[2])), size - 1
    if start >= size or start > end:
        raise Problem(
            416,
            "Range Not Satisfiable",
            f"the file has {size} bytes; ask for a range inside it",
            headers={"content-range": f"bytes */{size}"},
        )
    return start, end


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk
