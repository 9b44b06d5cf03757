"""The S3 store: each key under the prefix in a bucket of any S3-compatible service (AWS, MinIO,
Ceph RGW, Garage, SeaweedFS), through aiobotocore (the optional extra `arkham-shard-packets[s3]`).

Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
profiles, instance roles). An object is sent from a file on this machine in one request, or,
when larger than a part, in parts of a multipart upload read one at a time, so memory stays
flat whatever its size; a failed multipart upload is aborted (one a killed process leaves is
the sweep's, stores/s3_uploads.py, and the bucket's lifecycle rule's). Reads stream the
object's bytes, all or a range. What the service says is wrong becomes StoreUnavailable (503),
never a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TypeVar, cast
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ..core.file_modes import PRIVATE, FileModes
from ..core.store import CHUNK, ObjectMissing, StoredObject, StoreUnusable, sha256_of
from ..errors import StoreUnavailable
from .s3_session import new_session
from .s3_uploads import Unseen, abort_left

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef, UploadPartOutputTypeDef

PART_BYTES = 8 * 1024 * 1024  # a multipart upload's part (S3 wants 5 MiB at least)
MAX_PARTS = 10_000  # S3's most parts in one upload
CHECK_SECONDS = 30.0  # the start-up check's patience
HEALTH_SECONDS = 5.0
MISSING = {"404", "NoSuchKey", "NotFound"}
T = TypeVar("T")


def said(error: BaseException) -> str:
    """What went wrong, in one line, without the request's details."""
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials found (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile "
            "or an instance role)"
        )
    if isinstance(error, ClientError):
        problem = error.response.get("Error", {})
        code = str(problem.get("Code", "") or "")
        message = str(problem.get("Message", "") or "")
        if code == "404":
            return "no such bucket (404)"
        if code == "403":
            return "access denied (403): check the credentials and the bucket's policy"
        return f"{code}: {message}" if message else code or str(error)
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


class S3Store:
    backend = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        staging: Path,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str = "auto",
        modes: FileModes = PRIVATE,
        part_bytes: int = PART_BYTES,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.staging = staging
        self.endpoint_url = endpoint_url
        self.region = region
        self.addressing_style = addressing_style
        self.modes = modes
        self.part_bytes = part_bytes
        self._client: S3Client | None = None
        self._clients = contextlib.AsyncExitStack()
        self._made = asyncio.Lock()
        self._unseen = Unseen()  # uploads without parts, for the sweep

    @property
    def location(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where

    def local_path(self, key: str) -> None:
        return None

    async def _s3(self) -> S3Client:
        """The client, made on first use in the running event loop."""
        async with self._made:
            if self._client is None:
                config = AioConfig(
                    s3={"addressing_style": self.addressing_style},
                    retries={"max_attempts": 4, "mode": "standard"},
                    # Many S3-compatible services refuse the newer default checksum headers;
                    # every object's own digest is checked by the shard where it matters.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    connect_timeout=10,
                    read_timeout=60,
                    max_pool_connections=64,
                )
                client = new_session().create_client(
                    "s3", region_name=self.region, endpoint_url=self.endpoint_url, config=config
                )
                self._client = await self._clients.enter_async_context(client)
            return self._client

    async def _call(self, request: Callable[[S3Client], Awaitable[T]]) -> T:
        try:
            return await request(await self._s3())
        except (BotoCoreError, ClientError, OSError) as error:
            if isinstance(error, ClientError) and _code(error) in MISSING:
                raise
            raise StoreUnavailable(
                f"the file store is unavailable ({said(error)}); try again"
            ) from None

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    async def check(self) -> None:
        await self._endpoint_listens()
        try:
            await asyncio.wait_for(self._check(), CHECK_SECONDS)
        except asyncio.TimeoutError:
            raise StoreUnusable(
                f"can't reach the bucket {self.location}: no answer in {CHECK_SECONDS:.0f} s"
            ) from None
        except (BotoCoreError, ClientError, OSError) as error:
            raise StoreUnusable(f"can't use the bucket {self.location}: {said(error)}") from None
        await asyncio.to_thread(self.modes.make_folder, self.staging)

    async def _endpoint_listens(self) -> None:
        """A mistyped endpoint refused at once: the client would retry a refused connection
        for about 10 s before saying so. Not when a proxy (HTTP_PROXY, HTTPS_PROXY) carries
        the client's requests: then only the client can tell."""
        if not self.endpoint_url:
            return
        address = urlsplit(self.endpoint_url)
        host = address.hostname or ""
        if address.scheme in getproxies() and not proxy_bypass(host):
            return
        port = address.port or (443 if address.scheme == "https" else 80)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), HEALTH_SECONDS)
        except asyncio.TimeoutError:
            return  # slow, not absent: the check's own patience decides
        except OSError as error:
            if isinstance(error, socket.gaierror):
                why = "unknown host"
            else:
                why = os.strerror(error.errno) if error.errno else str(error)
            raise StoreUnusable(
                f"can't use the bucket {self.location}: nothing answers at {host}:{port} "
                f"({why}); check ARKHAM_PACKETS_S3_ENDPOINT_URL"
            ) from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    async def _check(self) -> None:
        """Head the bucket, then write, read back and delete a small object under the prefix."""
        s3 = await self._s3()
        await s3.head_bucket(Bucket=self.bucket)
        probe = self._key(f".check/{uuid.uuid4().hex}")
        body = b"arkham-packets store check\n"
        await s3.put_object(Bucket=self.bucket, Key=probe, Body=body)
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=probe)
            async with answer["Body"] as stream:
                read = await stream.read()
            if read != body:
                raise OSError("an object read back differs from what was written")
        finally:
            await s3.delete_object(Bucket=self.bucket, Key=probe)

    async def reachable(self) -> bool:
        try:
            s3 = await self._s3()
            await asyncio.wait_for(s3.head_bucket(Bucket=self.bucket), HEALTH_SECONDS)
        except Exception:
            return False
        return True

    async def put(self, key: str, source: Path) -> None:
        handle = await asyncio.to_thread(open, source, "rb")
        try:
            size = await asyncio.to_thread(_size, handle)
            part = max(self.part_bytes, -(-size // MAX_PARTS))
            if size <= part:
                body = cast(IO[bytes], Window(handle, 0, size))
                await self._call(
                    lambda s3: s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=body)
                )
            else:
                await self._put_parts(self._key(key), handle, size, part)
        finally:
            await asyncio.to_thread(handle.close)

    async def _put_parts(self, key: str, handle: BinaryIO, size: int, part: int) -> None:
        started = await self._call(
            lambda s3: s3.create_multipart_upload(Bucket=self.bucket, Key=key)
        )
        upload_id = started["UploadId"]
        parts: list[CompletedPartTypeDef] = []
        try:
            for start in range(0, size, part):
                number = len(parts) + 1
                body = cast(IO[bytes], Window(handle, start, min(part, size - start)))
                sent = await self._call(
                    partial(_upload_part, self.bucket, key, upload_id, number, body)
                )
                parts.append({"ETag": sent["ETag"], "PartNumber": number})
            await self._call(
                lambda s3: s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._abort(key, upload_id))
            raise

    async def _abort(self, key: str, upload_id: str) -> None:
        s3 = await self._s3()
        await s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    async def open(self, key: str, start: int = 0, end: int | None = None) -> S3Reader:
        if end is not None and end <= start:
            size = await self.size(key)
            if size is None:
                raise ObjectMissing(key)
            return S3Reader(None, size)
        asked: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            asked["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            answer = await self._call(lambda s3: s3.get_object(**asked))
        except ClientError:
            raise ObjectMissing(key) from None
        except StoreUnavailable:
            size = await self.size(key)  # a range that starts past the end is no bytes
            if size is None or start < size:
                raise
            return S3Reader(None, size)
        whole = answer.get("ContentRange", "").rpartition("/")[2]
        size = int(whole) if whole.isdigit() else answer["ContentLength"]
        return S3Reader(answer["Body"], size)

    async def size(self, key: str) -> int | None:
        try:
            head = await self._call(
                lambda s3: s3.head_object(Bucket=self.bucket, Key=self._key(key))
            )
        except ClientError:
            return None
        return head["ContentLength"]

    async def delete(self, key: str) -> None:
        await self._call(lambda s3: s3.delete_object(Bucket=self.bucket, Key=self._key(key)))

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        s3 = await self._s3()
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        try:
            async for page in pages:
                for found in page.get("Contents", []):
                    yield StoredObject(
                        found["Key"][len(self.prefix) :],
                        found["Size"],
                        found["LastModified"].timestamp(),
                    )
        except (BotoCoreError, ClientError, OSError) as error:
            raise StoreUnavailable(
                f"the file store is unavailable ({said(error)}); try again"
            ) from None

    async def abort_incomplete(self, prefix: str, cutoff: float) -> int:
        return await self._call(
            lambda s3: abort_left(s3, self.bucket, self._key(prefix), cutoff, self._unseen)
        )

    async def sha256(self, key: str) -> str | None:
        try:
            return await sha256_of(await self.open(key))
        except ObjectMissing:
            return None

    async def close(self) -> None:
        await self._clients.aclose()
        self._client = None


class Window(io.RawIOBase):
    """`length` bytes of a file from `start`, as a file of their own: the body of a request,
    which the HTTP client reads in a thread a piece at a time (never the whole part in memory)
    and botocore rewinds to send again."""

    def __init__(self, handle: BinaryIO, start: int, length: int) -> None:
        super().__init__()
        self.handle = handle
        self.start = start
        self.length = length
        self.position = 0

    def __len__(self) -> int:
        return self.length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        self.position = max(0, min(self.length, base + offset))
        return self.position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self.length - self.position)
        if wanted <= 0:
            return 0
        self.handle.seek(self.start + self.position)
        read = self.handle.readinto(memoryview(buffer)[:wanted])  # type: ignore[attr-defined]
        self.position += read or 0
        return read or 0


class S3Reader:
    """An object's bytes as the service streams them (None: no bytes asked for)."""

    def __init__(self, body: Any, size: int) -> None:
        self.body = body
        self.size = size

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.body is None:
            return
        try:
            async for chunk in self.body.iter_chunks(CHUNK):
                yield chunk
        except (BotoCoreError, OSError) as error:
            raise StoreUnavailable(
                f"the file store stopped sending ({said(error)}); try again"
            ) from None
        finally:
            self.body.close()

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        if self.body is not None:
            self.body.close()


async def _upload_part(
    bucket: str, key: str, upload_id: str, number: int, body: IO[bytes], s3: S3Client
) -> UploadPartOutputTypeDef:
    return await s3.upload_part(
        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
    )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _size(handle: BinaryIO) -> int:
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    return size
