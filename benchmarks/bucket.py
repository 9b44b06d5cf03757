"""A bucket for the figures of the s3 store: `moto_server` on a free port of 127.0.0.1 (the
`[test]` extra installs it), started for a section and stopped by its PID, as the tests do.

moto keeps objects in its own process and checks no signatures or checksums: its figures are
those of the shard and its S3 client against a fast local endpoint, not of a real service's
network and disks.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

import httpx
from aiobotocore.config import AioConfig

from arkham_shard_packets.stores.s3 import S3Store
from arkham_shard_packets.stores.s3_session import new_session

from .server import HOST, free_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
NAME = "packets-bench"
REGION = "us-east-1"
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Bucket:
    endpoint_url: str
    name: str = NAME

    def settings(self, prefix: str) -> dict[str, str]:
        """A server's environment for the s3 store under `prefix` of this bucket."""
        return {
            "ARKHAM_PACKETS_STORE": "s3",
            "ARKHAM_PACKETS_S3_BUCKET": self.name,
            "ARKHAM_PACKETS_S3_ENDPOINT_URL": self.endpoint_url,
            "ARKHAM_PACKETS_S3_PREFIX": prefix,
            "ARKHAM_PACKETS_S3_REGION": REGION,
            "ARKHAM_PACKETS_S3_ADDRESSING_STYLE": "path",
            **CREDENTIALS,
        }

    @contextmanager
    def store(self, prefix: str, staging: Path) -> Iterator[S3Store]:
        """The shard's own S3 store in this process (its client takes the credentials from the
        environment, set while the context is held)."""
        with patch.dict(os.environ, CREDENTIALS):
            yield S3Store(
                self.name,
                prefix,
                staging=staging,
                endpoint_url=self.endpoint_url,
                region=REGION,
                addressing_style="path",
            )


@asynccontextmanager
async def moto_bucket() -> AsyncIterator[Bucket]:
    """moto_server with an empty bucket, for as long as the context is held."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "moto.server",
        "-H",
        HOST,
        "-p",
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    bucket = Bucket(f"http://{HOST}:{port}")
    try:
        await wait_until_ready(process, bucket.endpoint_url)
        client = new_session().create_client(
            "s3",
            region_name=REGION,
            endpoint_url=bucket.endpoint_url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=AioConfig(s3={"addressing_style": "path"}),
        )
        async with client as s3:
            await s3.create_bucket(Bucket=bucket.name)
        yield bucket
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()


async def wait_until_ready(process: asyncio.subprocess.Process, endpoint_url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"moto_server exited with code {process.returncode}")
            try:
                await client.get(f"{endpoint_url}/moto-api/")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer within {START_TIMEOUT_S:.0f} s")
