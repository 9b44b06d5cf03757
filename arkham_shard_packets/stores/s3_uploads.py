"""Multipart uploads a killed process left in the bucket, found and aborted for the sweep
(recovery.py): the parts of one hold space, unseen by a listing of objects, until aborted.

An upload is left when nothing came to it since the cutoff: it began before, and its newest
part (if any) arrived before. A live upload of a large file may have begun longer ago than the
grace period, but its newest part never is that old. Uploads are listed and aborted page by
page of the service's answers; one completed or aborted meanwhile (by its server, or another
server's sweep) is no longer there, and is not counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

GONE = {"NoSuchUpload", "NoSuchKey", "404"}


async def abort_left(s3: S3Client, bucket: str, prefix: str, cutoff: float) -> int:
    """Abort the uploads to keys under `prefix` with nothing since `cutoff`; how many."""
    aborted = 0
    async for key, upload_id in _begun_before(s3, bucket, prefix, cutoff):
        newest = await _newest_part(s3, bucket, key, upload_id)
        if newest is None or newest > cutoff:
            continue
        try:
            await s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if _code(error) not in GONE:
                raise
            continue
        aborted += 1
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
