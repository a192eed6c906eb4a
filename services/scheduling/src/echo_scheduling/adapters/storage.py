"""Material storage adapters: a local directory (embedded default) and an S3-compatible bucket.

Both stream: a file is never held whole in memory (the S3 store buffers one multipart part).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from echo_runtime.logging import get_logger

from echo_scheduling.domain.errors import FileTooLarge, StorageUnavailable
from echo_scheduling.domain.library import material_id_of_key, too_large
from echo_scheduling.service_layer.ports import StoredFile

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

log = get_logger(__name__)

#: Read size of downloads.
READ_CHUNK = 256 * 1024
#: One S3 multipart part (S3's minimum is 5 MiB, except the last).
S3_PART = 8 * 1024 * 1024

#: Where the service serves the files of the local store.
FILES_PATH = "/v1/library/files"


class LinkSigner:
    """Signs and checks the service's own download links: HMAC-SHA256 over id and expiry."""

    def __init__(self, key: bytes, clock: Callable[[], datetime] | None = None) -> None:
        self._key = key
        self.clock = clock or (lambda: datetime.now(UTC))

    def signature(self, material_id: uuid.UUID, expires: int) -> str:
        message = f"{material_id}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, material_id: uuid.UUID, expires_at: datetime) -> str:
        """A relative URL of the file route, valid until `expires_at`."""
        expires = int(expires_at.timestamp())
        return (
            f"{FILES_PATH}/{material_id}?expires={expires}"
            f"&signature={self.signature(material_id, expires)}"
        )

    def valid(self, material_id: uuid.UUID, expires: int, signature: str) -> bool:
        """True for an untampered link whose expiry has not passed."""
        expected = self.signature(material_id, expires)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return False
        return expires > int(self.clock().timestamp())


class _Hashing:
    """Counts and hashes bytes as they pass; raises `FileTooLarge` past the limit."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.digest = hashlib.sha256()

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(None, self.max_bytes)
        self.digest.update(chunk)

    def result(self) -> StoredFile:
        return StoredFile(self.size, self.digest.hexdigest())


class LocalDirectoryStorage:
    """Files under one directory; the service signs its own download links."""

    def __init__(self, root: Path, signer: LinkSigner) -> None:
        self.root = root
        self.signer = signer

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key {key!r} leaves the library directory")
        return path

    async def put(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str, max_bytes: int
    ) -> StoredFile:
        path = self._path(key)
        partial = path.with_name(path.name + ".partial")
        counter = _Hashing(max_bytes)
        try:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
            handle = await asyncio.to_thread(partial.open, "wb")
        except OSError as exc:
            log.error("library_storage_failed", error=type(exc).__name__)
            raise StorageUnavailable(
                "file: the library store cannot be written right now; try again later"
            ) from None
        try:
            try:
                async for chunk in chunks:
                    counter.feed(chunk)
                    await asyncio.to_thread(handle.write, chunk)
            finally:
                await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, partial, path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(partial.unlink, True)
            if isinstance(exc, OSError):
                log.error("library_storage_failed", error=type(exc).__name__)
                raise StorageUnavailable(
                    "file: the library store cannot be written right now; try again later"
                ) from None
            raise
        return counter.result()

    async def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._path(key).open, "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                size = READ_CHUNK if left is None else min(READ_CHUNK, left)
                chunk = await asyncio.to_thread(handle.read, size)
                if not chunk:
                    break
                if left is not None:
                    left -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def signed_url(self, key: str, expires_at: datetime) -> str:
        return self.signer.url(material_id_of_key(key), expires_at)


class S3Storage:
    """Files in an S3 bucket (AWS or any S3-compatible server); boto3 runs in threads.

    Downloads are presigned GET URLs (SigV4), so the bucket does the serving; or, with a
    `signer`, the service's own signed links, streamed from the bucket by the service (the bucket
    then never has to be reachable from browsers, and the service enforces the expiry).
    """

    def __init__(self, client: S3Client, bucket: str, signer: LinkSigner | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.signer = signer

    @classmethod
    def connect(
        cls,
        *,
        bucket: str,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing_style: Literal["auto", "path", "virtual"] = "auto",
        signer: LinkSigner | None = None,
    ) -> S3Storage:
        """A store on `bucket`; credentials from the arguments or boto3's usual chain."""
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": addressing_style},
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )
        return cls(client, bucket, signer)

    async def put(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str, max_bytes: int
    ) -> StoredFile:
        counter = _Hashing(max_bytes)
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                counter.feed(chunk)
                buffer.extend(chunk)
                if len(buffer) >= S3_PART:
                    if upload_id is None:
                        started = await asyncio.to_thread(
                            self.client.create_multipart_upload,
                            Bucket=self.bucket,
                            Key=key,
                            ContentType=content_type,
                        )
                        upload_id = started["UploadId"]
                    parts.append(await self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if upload_id is None:
                await asyncio.to_thread(
                    self.client.put_object,
                    Bucket=self.bucket,
                    Key=key,
                    Body=bytes(buffer),
                    ContentType=content_type,
                )
            else:
                if buffer:
                    parts.append(await self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
                await asyncio.to_thread(
                    self.client.complete_multipart_upload,
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                )
        except BaseException as exc:
            if upload_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(
                        self.client.abort_multipart_upload,
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                    )
            if isinstance(exc, FileTooLarge) or not isinstance(exc, Exception):
                raise
            if _is_client_failure(exc):
                log.error("library_storage_failed", error=type(exc).__name__)
                raise StorageUnavailable(
                    "file: the library store cannot be written right now; try again later"
                ) from None
            raise
        return counter.result()

    async def _part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = await asyncio.to_thread(
            self.client.upload_part,
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        wanted = f"bytes={start}-{'' if end is None else end}"
        try:
            answer = await asyncio.to_thread(
                self.client.get_object, Bucket=self.bucket, Key=key, Range=wanted
            )
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=key)

    async def signed_url(self, key: str, expires_at: datetime) -> str:
        if self.signer is not None:
            return self.signer.url(material_id_of_key(key), expires_at)
        seconds = max(1, int((expires_at - datetime.now(UTC)).total_seconds()))
        url: str = await asyncio.to_thread(
            self.client.generate_presigned_url,
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=seconds,
        )
        return url


def _is_client_failure(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError)
