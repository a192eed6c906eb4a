"""Ports the library's use cases depend on; adapters implement them (`adapters/storage.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class StoredFile:
    """What storing a file measured while it streamed."""

    size_bytes: int
    sha256: str


class MaterialStorage(Protocol):
    """Where material files live: a local directory or an S3-compatible bucket, same interface.

    Keys end with the material id (`programmes/<programme id>/<material id>`).
    """

    async def put(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str, max_bytes: int
    ) -> StoredFile:
        """Stream `chunks` into `key`, hashing as it goes.

        Past `max_bytes` it stops reading, removes what it wrote and raises `FileTooLarge`;
        on any other failure it removes what it wrote too (no orphan, no partial file).
        """
        ...

    def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The file's bytes from `start` to `end` (inclusive; None = the last), in chunks."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the file; a missing file is not an error."""
        ...

    async def signed_url(self, key: str, expires_at: datetime) -> str:
        """A URL that downloads the file without a token until `expires_at`.

        May be relative to the service (the local store signs its own links).
        """
        ...
