"""A real S3 endpoint for the s3 store's tests: `moto_server` on 127.0.0.1 (a process of its own,
started once per session and stopped by its PID), or, with PACKETS_TEST_S3_URL, a real MinIO or
AWS bucket (`http://127.0.0.1:9000/packets-test`, `https://s3.eu-west-1.amazonaws.com/my-bucket`:
the endpoint, then the bucket; credentials from the AWS chain as the shard reads them). Each test
works under a prefix of its own; on a real bucket, what the session wrote is deleted at its end.

moto speaks the S3 protocol the real client talks, but checks no checksums, multipart part sizes
or signatures: no test relies on those.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Generator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

from arkham_shard_packets.stores.s3_session import new_session

from .live_host import free_port

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

S3_URL = os.environ.get("PACKETS_TEST_S3_URL")
MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
MOTO_BUCKET = "packets-test"
REGION = "us-east-1"


@dataclass(frozen=True)
class Bucket:
    endpoint_url: str
    name: str
    region: str
    credentials: dict[str, str]  # for moto; a real bucket's come from the environment
    session_prefix: str  # everything this session writes is under it

    def settings(self, prefix: str) -> dict[str, str]:
        """The shard's environment for the s3 store under `prefix` of this bucket."""
        return {
            "ARKHAM_PACKETS_STORE": "s3",
            "ARKHAM_PACKETS_S3_BUCKET": self.name,
            "ARKHAM_PACKETS_S3_ENDPOINT_URL": self.endpoint_url,
            "ARKHAM_PACKETS_S3_PREFIX": prefix,
            "ARKHAM_PACKETS_S3_REGION": self.region,
            "ARKHAM_PACKETS_S3_ADDRESSING_STYLE": "path",
            **self.credentials,
        }

    def new_prefix(self) -> str:
        return f"{self.session_prefix}{uuid.uuid4().hex[:12]}/"

    def client(self) -> AbstractAsyncContextManager[S3Client]:
        """An aiobotocore client of the tests' own (not the shard's), as an async context."""
        return new_session().create_client(
            "s3",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.credentials.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.credentials.get("AWS_SECRET_ACCESS_KEY"),
            config=AioConfig(s3={"addressing_style": "path"}),
        )

    async def keys(self, prefix: str) -> dict[str, int]:
        """Every object under `prefix`, by its key under it, with its size."""
        found: dict[str, int] = {}
        async with self.client() as s3:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
            async for page in pages:
                for item in page.get("Contents", []):
                    found[item["Key"][len(prefix) :]] = item["Size"]
        return found

    async def read(self, key: str) -> bytes:
        async with self.client() as s3:
            answer = await s3.get_object(Bucket=self.name, Key=key)
            async with answer["Body"] as body:
                return bytes(await body.read())

    async def write(self, key: str, data: bytes) -> None:
        async with self.client() as s3:
            await s3.put_object(Bucket=self.name, Key=key, Body=data)

    async def remove(self, key: str) -> None:
        async with self.client() as s3:
            await s3.delete_object(Bucket=self.name, Key=key)

    async def make_bucket(self, name: str) -> None:
        async with self.client() as s3:
            await s3.create_bucket(Bucket=name)

    async def drop_bucket(self, name: str) -> None:
        """Emptied, then deleted."""
        async with self.client() as s3:
            listed = await s3.list_objects_v2(Bucket=name)
            for item in listed.get("Contents", []):
                await s3.delete_object(Bucket=name, Key=item["Key"])
            await s3.delete_bucket(Bucket=name)

    async def ensure(self) -> None:
        async with self.client() as s3:
            try:
                await s3.head_bucket(Bucket=self.name)
            except ClientError:
                await s3.create_bucket(Bucket=self.name)

    async def empty(self, prefix: str) -> None:
        for key in await self.keys(prefix):
            await self.remove(prefix + key)


def real_bucket(url: str) -> Bucket:
    parts = urllib.parse.urlsplit(url)
    name = parts.path.strip("/").split("/")[0]
    if parts.scheme not in ("http", "https") or not name:
        raise ValueError(
            f"PACKETS_TEST_S3_URL={url}: give the endpoint and the bucket, such as "
            "http://127.0.0.1:9000/packets-test"
        )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or REGION
    endpoint = f"{parts.scheme}://{parts.netloc}"
    return Bucket(endpoint, name, region, {}, f"packets-tests/{uuid.uuid4().hex[:12]}/")


def moto_server() -> Generator[Bucket, None, None]:
    """moto_server on a free port of 127.0.0.1 for as long as the generator is held."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield Bucket(endpoint, MOTO_BUCKET, REGION, MOTO_CREDENTIALS, "")
    finally:
        os.kill(process.pid, 15)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, 9)
            process.wait()
