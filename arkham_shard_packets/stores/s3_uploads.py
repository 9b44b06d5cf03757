"""Multipart uploads a killed process left in the bucket, found and aborted for the sweep
(recovery.py): the parts of one hold space, unseen by a listing of objects, until aborted.

An upload is left when nothing came to it since the cutoff: it began before, and its newest
part arrived before. A live upload of a large file may have begun longer ago than the grace
period, but its newest part never is that old. An upload without parts has only its start
date, which not every service keeps (moto_server dates every upload 2010): one counts as begun
no later than when this process first saw it without parts (`Unseen`), so an upload whose
first part is on its way is never taken for a left one. Uploads are listed and aborted page by
page of the service's answers; one completed or aborted meanwhile (by its server, or another
server's sweep) is no longer there, and is not counted.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

GONE = {"NoSuchUpload", "NoSuchKey", "404"}


class Unseen:
    """When this process first saw each upload without parts, by the prefix listed and the
    upload's id; an upload no longer listed so is forgotten."""

    def __init__(self) -> None:
        self.empty_since: dict[str, dict[str, float]] = {}

    def since(self, prefix: str, upload_id: str, now: float) -> float:
        return self.empty_since.setdefault(prefix, {}).setdefault(upload_id, now)

    def keep_only(self, prefix: str, upload_ids: set[str]) -> None:
        seen = self.empty_since.get(prefix, {})
        self.empty_since[prefix] = {key: seen[key] for key in seen.keys() & upload_ids}


async def abort_left(s3: S3Client, bucket: str, prefix: str, cutoff: float, unseen: Unseen) -> int:
    """Abort the uploads to keys under `prefix` with nothing since `cutoff`; how many."""
    aborted = 0
    now = time.time()
    empty: set[str] = set()
    async for key, upload_id in _begun_before(s3, bucket, prefix, cutoff):
        newest = await _newest_part(s3, bucket, key, upload_id)
        if newest == 0.0:
            empty.add(upload_id)
            newest = unseen.since(prefix, upload_id, now)
        if newest is None or newest > cutoff:
            continue
        try:
            await s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if _code(error) not in GONE:
                raise
            continue
        aborted += 1
    unseen.keep_only(prefix, empty)
    return aborted


async def _begun_before(
    s3: S3Client, bucket: str, prefix: str, cutoff: float
) -> AsyncIterator[tuple[str, str]]:
    pages = s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix)
    async for page in pages:
        for upload in page.get("Uploads", []):
            if upload["Initiated"].timestamp() <= cutoff:
                yield upload["Key"], upload["UploadId"]


async def _newest_part(s3: S3Client, bucket: str, key: str, upload_id: str) -> float | None:
    """When the upload's newest part arrived (0.0: it has none); None when it is gone."""
    newest = 0.0
    pages = s3.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id)
    try:
        async for page in pages:
            for part in page.get("Parts", []):
                newest = max(newest, part["LastModified"].timestamp())
    except ClientError as error:
        if _code(error) in GONE:
            return None
        raise
    return newest


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
