"""The operations the bulk sections time: export and import through the API, and the command
line tools they are compared with (`sha256sum`, `zip`, `tar`, `unzip`) run as subprocesses."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import httpx

DOWNLOAD_CHUNK = 1024 * 1024


async def export_to(client: httpx.AsyncClient, packet_id: str, kind: str, target: Path) -> None:
    """Export, then download the archive to `target`: done when the file is whole on disk.
    The server's copy is removed afterwards (outside the timed part, by the caller's order)."""
    response = await client.post(f"/api/packets/{packet_id}/export", json={"format": kind})
    if response.status_code != 200:
        raise RuntimeError(f"export {kind}: {response.status_code} {response.text}")
    made = response.json()
    out = await asyncio.to_thread(open, target, "wb")
    try:
        async with client.stream("GET", made["download_url"]) as download:
            download.raise_for_status()
            async for chunk in download.aiter_raw(DOWNLOAD_CHUNK):
                await asyncio.to_thread(out.write, chunk)
    finally:
        await asyncio.to_thread(out.close)
    size = (await asyncio.to_thread(target.stat)).st_size
    if size != made["file_size_bytes"]:
        raise RuntimeError(f"export {kind}: downloaded {size} of {made['file_size_bytes']} bytes")
    await asyncio.to_thread(Path(made["file_path"]).unlink, missing_ok=True)


async def import_from(client: httpx.AsyncClient, archive: Path) -> dict[str, Any]:
    handle = await asyncio.to_thread(open, archive, "rb")
    try:
        response = await client.post(
            "/api/packets/import",
            files={"file": (archive.name, handle, "application/octet-stream")},
            data={"merge_mode": "replace"},
        )
    finally:
        await asyncio.to_thread(handle.close)
    if response.status_code != 201:
        raise RuntimeError(f"import: {response.status_code} {response.text}")
    result: dict[str, Any] = response.json()
    return result


async def shell(*command: str, cwd: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, errors = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: exit {process.returncode}: {errors.decode()}")


async def tools_export(files: Path, kind: str, target: Path) -> None:
    """What a person would do by hand: checksum the files, then pack them with Debian's tool."""
    names = sorted(await asyncio.to_thread(os.listdir, files))
    sums = target.with_name(target.name + ".sha256")
    process = await asyncio.create_subprocess_exec(
        "sha256sum", *names, cwd=files, stdout=asyncio.subprocess.PIPE
    )
    listing, _ = await process.communicate()
    await asyncio.to_thread(sums.write_bytes, listing)
    if kind == "zip":
        await shell("zip", "-r", "-q", str(target), files.name, cwd=files.parent)
    else:
        await shell("tar", "czf", str(target), files.name, cwd=files.parent)


async def tools_import(archive: Path, destination: Path) -> None:
    """`unzip` the archive, then `sha256sum -c` the bag's own manifest inside it."""
    await asyncio.to_thread(destination.mkdir, parents=True)
    await shell("unzip", "-q", str(archive), "-d", str(destination), cwd=destination)
    (bag,) = await asyncio.to_thread(os.listdir, destination)
    await shell("sha256sum", "-c", "--quiet", "manifest-sha256.txt", cwd=destination / bag)


def remove(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
