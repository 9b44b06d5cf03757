"""The bucket of the stress run's machines mode: `moto_server` on 127.0.0.1 (started here and
stopped by its PID, as the tests do), or a real bucket named by `--s3-url`
(`http://127.0.0.1:9000/packets-stress`: the endpoint, then the bucket; credentials from the
AWS chain). The run works under a prefix of its own, emptied at the end on a real bucket.

Its invariant, checked after the surviving server's sweep: the bucket holds exactly the objects
the database names (each attached file an item or a version names, each export a row names),
every one of them, and no incomplete multipart upload.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError
from sqlalchemy import select

from arkham_shard_packets.core.store import EXPORTS, blob_digest, blob_key
from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.tables import packet_contents, packet_exports, snapshot_files
from arkham_shard_packets.stores.s3_session import new_session

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

HOST = "127.0.0.1"
MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
MOTO_BUCKET = "packets-stress"
REGION = "us-east-1"


@dataclass(frozen=True)
class Upload:
    """A multipart upload begun and neither completed nor aborted."""

    key: str
    upload_id: str


@dataclass(frozen=True)
class Bucket:
    endpoint_url: str
    name: str
    region: str
    credentials: dict[str, str]  # moto's; a real bucket's come from the AWS chain
    prefix: str  # this run's

    def settings(self) -> dict[str, str]:
        """A server's environment for the s3 store under this run's prefix."""
        return {
            "ARKHAM_PACKETS_STORE": "s3",
            "ARKHAM_PACKETS_S3_BUCKET": self.name,
            "ARKHAM_PACKETS_S3_ENDPOINT_URL": self.endpoint_url,
            "ARKHAM_PACKETS_S3_PREFIX": self.prefix,
            "ARKHAM_PACKETS_S3_REGION": self.region,
            "ARKHAM_PACKETS_S3_ADDRESSING_STYLE": "path",
            **self.credentials,
        }

    def client(self) -> AbstractAsyncContextManager[S3Client]:
        """A client of the script's own (not the shard's)."""
        return new_session().create_client(
            "s3",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.credentials.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.credentials.get("AWS_SECRET_ACCESS_KEY"),
            config=AioConfig(s3={"addressing_style": "path"}),
        )

    async def ensure(self) -> None:
        async with self.client() as s3:
            try:
                await s3.head_bucket(Bucket=self.name)
            except ClientError:
                await s3.create_bucket(Bucket=self.name)

    async def keys(self) -> set[str]:
        """Every object under the run's prefix, by its key under it (the store's key)."""
        found: set[str] = set()
        async with self.client() as s3:
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=self.prefix
            )
            async for page in pages:
                found |= {item["Key"][len(self.prefix) :] for item in page.get("Contents", [])}
        return found

    async def uploads(self) -> list[Upload]:
        """The incomplete multipart uploads under the run's prefix."""
        found: list[Upload] = []
        async with self.client() as s3:
            pages = s3.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.name, Prefix=self.prefix
            )
            async for page in pages:
                found += [
                    Upload(item["Key"][len(self.prefix) :], item["UploadId"])
                    for item in page.get("Uploads", [])
                ]
        return found

    async def empty(self) -> None:
        """What the run left under its prefix: objects deleted, uploads aborted."""
        async with self.client() as s3:
            for upload in await self.uploads():
                await s3.abort_multipart_upload(
                    Bucket=self.name, Key=self.prefix + upload.key, UploadId=upload.upload_id
                )
            for key in await self.keys():
                await s3.delete_object(Bucket=self.name, Key=self.prefix + key)


def real_bucket(url: str) -> Bucket:
    parts = urllib.parse.urlsplit(url)
    name = parts.path.strip("/").split("/")[0]
    if parts.scheme not in ("http", "https") or not name:
        raise SystemExit(f"--s3-url {url}: give the endpoint and the bucket, such as {EXAMPLE}")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or REGION
    endpoint = f"{parts.scheme}://{parts.netloc}"
    return Bucket(endpoint, name, region, {}, f"packets-stress/{uuid.uuid4().hex[:12]}/")


EXAMPLE = "http://127.0.0.1:9000/packets-stress"


@contextmanager
def moto_server(port: int) -> Iterator[Bucket]:
    """moto_server on `port` of 127.0.0.1 for as long as the context is held."""
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("moto_server did not start") from None
                time.sleep(0.1)
        yield Bucket(endpoint, MOTO_BUCKET, REGION, MOTO_CREDENTIALS, "stress/")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def named_keys(database_url: str) -> set[str]:
    """The store keys the database names: each attached file an item or a version's snapshot
    names, each export's bundle."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            digests = set((await conn.scalars(select(packet_contents.c.file_sha256))).all())
            digests |= set((await conn.scalars(select(snapshot_files.c.file_sha256))).all())
            exports = set((await conn.scalars(select(packet_exports.c.store_key))).all())
    finally:
        await engine.dispose()
    return {blob_key(d) for d in digests if d is not None} | {k for k in exports if k is not None}


async def bucket_violations(bucket: Bucket, database_url: str) -> list[str]:
    """The bucket against the database: nothing more, nothing less, nothing half-uploaded."""
    held, named = await bucket.keys(), await named_keys(database_url)
    problems = []
    for key in sorted(held - named):
        kind = (
            "an attached file"
            if blob_digest(key)
            else "an export"
            if key.startswith(EXPORTS)
            else "neither a file nor an export"
        )
        problems.append(f"the bucket holds {key} ({kind}), which no row names")
    problems += [f"a row names {key}, which is not in the bucket" for key in sorted(named - held)]
    uploads = await bucket.uploads()
    if uploads:
        listed = ", ".join(upload.key for upload in uploads[:5])
        problems.append(f"the bucket holds {len(uploads)} incomplete multipart upload(s): {listed}")
    return problems


async def blobs_held(bucket: Bucket) -> set[str]:
    """The digests of the attached files in the bucket."""
    return {digest for key in await bucket.keys() if (digest := blob_digest(key))}
