"""The session library: materials (slides, documents, links, recordings) of a programme.

Plain Python: what a material is, which file types each kind accepts (by declared type and by
the file's first bytes), the size limits, and who may read or change a programme's library.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from echo_contracts.events import MaterialKind

from echo_scheduling.domain.errors import (
    FileTooLarge,
    InvalidMaterial,
    UnsupportedFileType,
)

PDF = "application/pdf"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODP = "application/vnd.oasis.opendocument.presentation"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
TXT = "text/plain"
MP4 = "video/mp4"
WEBM = "video/webm"
M4A = "audio/mp4"
MP3 = "audio/mpeg"

#: Names people know the types by, for messages.
SHORT_NAMES = {
    PDF: "pdf",
    PPTX: "pptx",
    ODP: "odp",
    DOCX: "docx",
    ODT: "odt",
    TXT: "txt",
    MP4: "mp4",
    WEBM: "webm",
    M4A: "m4a",
    MP3: "mp3",
}

#: Other spellings clients send for the same types.
ALIASES = {
    "audio/x-m4a": M4A,
    "audio/m4a": M4A,
    "audio/mp3": MP3,
    "audio/webm": WEBM,
}

#: The declared content types each file kind accepts.
ALLOWED_TYPES: dict[MaterialKind, tuple[str, ...]] = {
    MaterialKind.SLIDES: (PDF, PPTX, ODP),
    MaterialKind.DOCUMENT: (PDF, DOCX, ODT, TXT),
    MaterialKind.RECORDING: (MP4, WEBM, M4A, MP3),
}

#: How many first bytes of a file are enough to recognise its type.
SNIFF_BYTES = 4096

MAX_URL_LENGTH = 2000


def allowed_names(kind: MaterialKind) -> str:
    """The accepted types of a kind, for a message (e.g. `pdf, pptx, odp`)."""
    types = ALLOWED_TYPES.get(kind, ())
    return ", ".join(f"{SHORT_NAMES[t]} ({t})" for t in types)


def normalise_type(declared: str | None) -> str:
    """The bare, lower-case media type of a Content-Type value (parameters dropped)."""
    bare = (declared or "").split(";", 1)[0].strip().lower()
    return ALIASES.get(bare, bare)


#: Types inferred from the file name when a client declares none or a generic one.
BY_EXTENSION = {name: content_type for content_type, name in SHORT_NAMES.items()}
GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream")


def check_declared_type(
    kind: MaterialKind, declared: str | None, filename: str | None = None
) -> str:
    """The canonical type of an upload of `kind`; `UnsupportedFileType` when not accepted.

    A missing or generic declaration (application/octet-stream) falls back to the file name's
    extension; the file's first bytes are checked against the result either way.
    """
    if kind is MaterialKind.LINK:
        raise InvalidMaterial(
            "kind: a link carries a url and no file; send it as JSON with `url`", field="kind"
        )
    content_type = normalise_type(declared)
    if content_type in GENERIC_TYPES and filename and "." in filename:
        content_type = BY_EXTENSION.get(filename.rsplit(".", 1)[1].lower(), content_type)
    if content_type not in ALLOWED_TYPES[kind]:
        shown = content_type or "a file without a Content-Type"
        raise UnsupportedFileType(
            f"file: {kind.value} accepts {allowed_names(kind)}, not {shown}; "
            "send the file with one of these content types"
        )
    return content_type


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is still text.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def _zip_member_mimetype(head: bytes) -> bytes | None:
    """The `mimetype` entry of an OpenDocument zip (stored first and uncompressed by the spec)."""
    if head[30:38] == b"mimetype":
        return head[38:120].split(b"PK", 1)[0]
    return None


def matches_magic(content_type: str, head: bytes) -> bool:
    """True when the file's first bytes are of `content_type` (declared types can lie)."""
    if content_type == PDF:
        return head.startswith(b"%PDF-")
    if content_type in (PPTX, DOCX):
        # OOXML is a zip that is not an OpenDocument one.
        return head.startswith(b"PK\x03\x04") and _zip_member_mimetype(head) is None
    if content_type in (ODP, ODT):
        return (
            head.startswith(b"PK\x03\x04") and _zip_member_mimetype(head) == content_type.encode()
        )
    if content_type == TXT:
        return _is_text(head)
    if content_type in (MP4, M4A):
        return head[4:8] == b"ftyp"
    if content_type == WEBM:
        return head.startswith(b"\x1a\x45\xdf\xa3")
    if content_type == MP3:
        return head.startswith(b"ID3") or (
            len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0
        )
    return False


def check_magic(kind: MaterialKind, content_type: str, head: bytes) -> None:
    """Refuse a file whose first bytes are not of its declared type."""
    if not matches_magic(content_type, head):
        raise UnsupportedFileType(
            f"file: the content is not a {SHORT_NAMES.get(content_type, content_type)} file"
            f" as declared; {kind.value} accepts {allowed_names(kind)}"
        )


@dataclass(frozen=True)
class SizeLimits:
    """The largest file accepted per kind, in bytes."""

    recording: int
    other: int

    def for_kind(self, kind: MaterialKind) -> int:
        return self.recording if kind is MaterialKind.RECORDING else self.other

    @property
    def largest(self) -> int:
        return max(self.recording, self.other)


def too_large(kind: MaterialKind | None, limit: int) -> FileTooLarge:
    """The error for a file past `limit` bytes."""
    what = f"a {kind.value} file" if kind else "a file"
    readable = f"{limit / 1_000_000:g} MB" if limit >= 1_000_000 else f"{limit / 1000:g} kB"
    return FileTooLarge(
        f"file: {what} may have at most {limit} bytes ({readable});"
        " upload a smaller file or link to it instead",
        limit=limit,
    )


def check_link(url: str) -> str:
    """A link's URL, checked: http or https with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL_LENGTH:
        raise InvalidMaterial(
            "url: a link must be an http:// or https:// address with a host"
            f" (at most {MAX_URL_LENGTH} characters)",
            field="url",
        )
    return url


@dataclass
class Material:
    """One item of a programme's library: a stored file, or a link (no file)."""

    id: uuid.UUID
    programme_id: uuid.UUID
    kind: MaterialKind
    title: str
    language: str
    added_by: str
    added_at: datetime
    session_id: uuid.UUID | None = None
    size_bytes: int = 0
    content_type: str | None = None
    sha256: str | None = None
    #: Where the file is in storage (files), None for links.
    storage_key: str | None = None
    #: The address of a link, None for files.
    url: str | None = None
    #: The file's name as uploaded (no folders), if the browser sent one.
    filename: str | None = None
    removed: bool = False
    removed_at: datetime | None = None

    @property
    def is_file(self) -> bool:
        return self.storage_key is not None


def storage_key(programme_id: uuid.UUID, material_id: uuid.UUID) -> str:
    """Where a material's file is stored: grouped by programme, named by the material id."""
    return f"programmes/{programme_id}/{material_id}"


def material_id_of_key(key: str) -> uuid.UUID:
    """The material id a storage key ends with."""
    return uuid.UUID(key.rsplit("/", 1)[-1])


def upload_name(sent: str | None) -> str | None:
    """The last path segment of an uploaded file's name, at most 255 characters; None when
    there is none. Control characters are refused (`InvalidMaterial`)."""
    if sent is None:
        return None
    name = sent.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise InvalidMaterial(
            "file: the file name holds control characters; rename the file", field="file"
        )
    return name[:255] or None
