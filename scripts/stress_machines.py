"""The machines mode (`--s3`): two servers, A and B, each on a data directory of its own (two
machines), sharing the PostgreSQL database, one bucket and the key-encryption key.

After the load of the usual run, spread over both: a file attached, an export made, a packet
sealed and shared on one is downloaded, verified and opened through the link on the other
(both ways); then A is killed (SIGKILL) while it sends a large upload to the bucket in parts,
and B's sweep must leave the bucket holding exactly what the database names, with no
incomplete multipart upload. A is started again (its own sweep empties its scratch), and every
invariant of the usual run is checked, the files downloaded through B.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from botocore.exceptions import ClientError
from stress_bucket import Bucket, blobs_held, bucket_violations, moto_server, real_bucket
from stress_checks import check_everything
from stress_cluster import Cluster, Tally, free_port, reset_database
from stress_load import hammer

A, B = 0, 1
NAMES = "AB"
GRACE_SECONDS = 4.0  # the servers sweep what a killed process left once this old
SWEEP_SECONDS = 1.0  # ... this often
FILE_BYTES = 12 * 1024 * 1024  # attached across the machines: sent to the bucket in 2 parts
KILLED_BYTES = 40 * 1024 * 1024  # the upload A is killed in: 5 parts of 8 MiB
SWEEP_PATIENCE = GRACE_SECONDS + 4 * SWEEP_SECONDS + 10.0
SCRATCH = ("spool", "tmp")  # what a machine keeps on its disk
FINISHED = ("files", "exports")  # what it must not, with the s3 store


class Broken(Exception):
    """A step answered what it must not: the scenario's remaining steps are skipped."""


class Across:
    """One machine makes, the other serves: each answer checked, each violation one line."""

    def __init__(self, cluster: Cluster, tally: Tally) -> None:
        self.cluster = cluster
        self.tally = tally

    async def call(
        self, server: int, op: str, method: str, path: str, expect: int = 200, **kwargs: Any
    ) -> httpx.Response:
        try:
            answer = await self.cluster.clients[server].request(method, path, **kwargs)
        except httpx.TransportError as error:
            self.tally.record(op, 599, repr(error))
            raise Broken(f"{op} on {NAMES[server]}: {error!r}") from None
        self.tally.record(op, answer.status_code, answer.text)
        if answer.status_code != expect:
            raise Broken(f"{op} on {NAMES[server]}: {answer.status_code} {answer.text[:200]}")
        return answer

    async def both_ways(self) -> list[str]:
        problems = []
        for maker, server in ((A, B), (B, A)):
            try:
                problems += await self.made_and_served(maker, server)
            except Broken as broken:
                problems.append(f"made on {NAMES[maker]}, served by {NAMES[server]}: {broken}")
        return problems

    async def made_and_served(self, maker: int, server: int) -> list[str]:
        where = f"made on {NAMES[maker]}, served by {NAMES[server]}"
        data = os.urandom(FILE_BYTES)
        packet = (await self.call(maker, "create", "POST", "/", 201, json={"name": where})).json()
        pid = packet["id"]
        item = {"content_type": "document", "content_id": "across"}
        entry = (await self.call(maker, "add", "POST", f"/{pid}/contents", 201, json=item)).json()
        file = f"/{pid}/contents/{entry['id']}/file"
        await self.call(maker, "attach", "PUT", file, files={"file": ("across.bin", data)})
        problems = []
        got = await self.call(server, "download", "GET", file)
        if got.content != data:
            problems.append(f"{where}: the attached file is not served intact")
        part = await self.call(server, "download", "GET", file, 206, headers={"range": RANGE})
        if part.content != data[1000:2000]:
            problems.append(f"{where}: a range of the attached file is not its bytes")
        made = (await self.call(maker, "export", "POST", f"/{pid}/export", json={})).json()
        bundle = await self.call(server, "download", "GET", made["download_url"][len(API) :])
        if hashlib.sha256(bundle.content).hexdigest() != made["sha256"]:
            problems.append(f"{where}: the export is not served intact")
        await self.call(maker, "finalize", "POST", f"/{pid}/finalize")
        verified = (await self.call(server, "verify", "GET", f"/{pid}/verify")).json()
        if not (verified["valid"] and verified["signature_valid"] and verified["trusted"]):
            problems.append(f"{where}: the seal does not verify: {verified}")
        return problems + await self.shared(maker, server, pid, entry["id"], data)

    async def shared(
        self, maker: int, server: int, packet_id: str, entry_id: str, data: bytes
    ) -> list[str]:
        where = f"shared on {NAMES[maker]}, opened on {NAMES[server]}"
        body = {"shared_with": "public", "password": PASSWORD}
        share = await self.call(maker, "share", "POST", f"/{packet_id}/share", 201, json=body)
        link, headers = f"/shared/{share.json()['access_token']}", {"x-share-password": PASSWORD}
        opened = (await self.call(server, "link", "GET", link, headers=headers)).json()
        problems = []
        if opened["packet"]["id"] != packet_id:
            problems.append(f"{where}: the link opens another packet")
        file = f"{link}/contents/{entry_id}/file"
        got = await self.call(server, "link-download", "GET", file, headers=headers)
        if got.content != data:
            problems.append(f"{where}: the file is not served intact through the link")
        await self.call(server, "link-bundle", "GET", f"{link}/bundle", headers=headers)
        return problems

    async def keys_agree(self) -> list[str]:
        listed = [(await self.call(server, "keys", "GET", "/keys")).json() for server in (A, B)]
        return [] if listed[0] == listed[1] else [f"A and B list other keys: {listed}"]


API = "/api/packets"
RANGE = "bytes=1000-1999"
PASSWORD = "across the machines"


async def kill_mid_upload(cluster: Cluster, bucket: Bucket, scratch: Path) -> list[str]:
    """A is killed while it sends a large upload to the bucket in parts; the item it was for
    stays without a file (on B)."""
    client = cluster.clients[A]
    made = await client.post("/", json={"name": "Killed mid-upload"})
    pid = made.json()["id"]
    item = {"content_type": "document", "content_id": "killed"}
    entry = (await client.post(f"/{pid}/contents", json=item)).json()["id"]
    upload = scratch / "killed-upload.bin"
    await asyncio.to_thread(write_random, upload, KILLED_BYTES)
    handle = await asyncio.to_thread(open, upload, "rb")
    try:
        files = {"file": ("killed.bin", handle)}
        sending = asyncio.create_task(client.put(f"/{pid}/contents/{entry}/file", files=files))
        caught = await first_upload(bucket, sending)
        cluster.kill(A)
        with contextlib.suppress(httpx.TransportError):
            await sending
    finally:
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(upload.unlink)
    problems = []
    if caught is None:
        problems.append("A finished the upload before a multipart upload showed in the bucket")
    else:
        left = await asyncio.to_thread(scratch_files, cluster.data_dirs[A])
        print(f"stress: A killed uploading {caught} in parts ({len(left)} file(s) in scratch)")
    listed = (await cluster.clients[B].get(f"/{pid}/contents")).json()
    if [item["file"] for item in listed] != [None]:
        problems.append(f"the item A was killed uploading to has a file: {listed}")
    return problems


def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as out:
        for _ in range(size // (1 << 20)):
            out.write(os.urandom(1 << 20))


async def first_upload(bucket: Bucket, sending: asyncio.Task[httpx.Response]) -> str | None:
    """The key of the first multipart upload under way in the bucket once a part of it is
    there (the upload well begun), None if the request ended before."""
    async with bucket.client() as s3:
        while not sending.done():
            listed = await s3.list_multipart_uploads(Bucket=bucket.name, Prefix=bucket.prefix)
            for upload in listed.get("Uploads", []):
                key, upload_id = upload["Key"], upload["UploadId"]
                try:
                    parts = await s3.list_parts(Bucket=bucket.name, Key=key, UploadId=upload_id)
                except ClientError:  # completed (or aborted) meanwhile
                    continue
                if parts.get("Parts"):
                    return key[len(bucket.prefix) :]
            await asyncio.sleep(0.01)
    return None


async def swept(bucket: Bucket, database_url: str) -> list[str]:
    """What is wrong with the bucket once B's sweep has run (still wrong after the patience)."""
    started = time.monotonic()
    while True:
        problems = await bucket_violations(bucket, database_url)
        waited = time.monotonic() - started
        if not problems:
            print(f"stress: B's sweep left the bucket as the database names it ({waited:.1f}s)")
            return []
        if waited > SWEEP_PATIENCE:
            print(f"stress: the bucket still differs from the database after {waited:.0f}s")
            return problems
        await asyncio.sleep(0.5)


def files_in(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if not path.is_dir()]


def scratch_files(data_dir: Path) -> list[Path]:
    return [path for folder in SCRATCH for path in files_in(data_dir / folder)]


def machine_violations(data_dirs: list[Path]) -> list[str]:
    """Each machine holds scratch only, and none once its work is done and swept."""
    problems = []
    for name, data_dir in zip(NAMES, data_dirs, strict=True):
        for folder in FINISHED + SCRATCH:
            left = files_in(data_dir / folder)
            if left:
                problems.append(f"{name} keeps {len(left)} file(s) in {folder}/: {left[0]}")
    return problems


@contextlib.contextmanager
def the_bucket(args: argparse.Namespace) -> Iterator[Bucket]:
    if args.s3_url:
        yield real_bucket(args.s3_url)
    else:
        with moto_server(free_port()) as bucket:
            yield bucket


async def run_machines(args: argparse.Namespace, data_dir: Path, tally: Tally) -> list[str]:
    """The machines mode's violations."""
    await reset_database(args.database_url)
    with the_bucket(args) as bucket:
        await bucket.ensure()
        env = bucket.settings() | {
            "ARKHAM_PACKETS_KEY_ENCRYPTION_KEY": os.urandom(32).hex(),
            "ARKHAM_PACKETS_RECOVERY_GRACE_SECONDS": str(GRACE_SECONDS),
            "ARKHAM_PACKETS_RECOVERY_SWEEP_SECONDS": str(SWEEP_SECONDS),
        }
        dirs = [data_dir / name for name in NAMES]
        cluster = Cluster(args.database_url, dirs, data_dir, env)
        try:
            return await on_two_machines(cluster, bucket, tally, args, data_dir)
        finally:
            if args.s3_url:
                await bucket.empty()


async def on_two_machines(
    cluster: Cluster, bucket: Bucket, tally: Tally, args: argparse.Namespace, data_dir: Path
) -> list[str]:
    problems: list[str] = []
    started = time.monotonic()
    cluster.start()
    try:
        await cluster.wait_ready()
        print(f"stress: A and B up on {bucket.endpoint_url} in {time.monotonic() - started:.1f}s")
        load = await hammer(cluster, tally, args)
        print(f"stress: {tally.requests} requests ({load.races} races)")
        across = Across(cluster, tally)
        problems += await across.both_ways() + await across.keys_agree()
        problems += await kill_mid_upload(cluster, bucket, data_dir)
        after_sweep = await swept(bucket, args.database_url)
        problems += [f"after B's sweep: {problem}" for problem in after_sweep]
        await cluster.restart(A)
        problems += await asyncio.to_thread(machine_violations, cluster.data_dirs)
        problems += await check_everything(
            cluster.clients[B], args.database_url, lambda: blobs_held(bucket)
        )
        at_end = await bucket_violations(bucket, args.database_url)
        problems += [f"at the end: {problem}" for problem in at_end if problem not in after_sweep]
    finally:
        problems += await cluster.stop()
    return problems
