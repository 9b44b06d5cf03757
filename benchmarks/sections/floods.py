"""Section 10, floods: what a link's holder can do by using it without end, on live uvicorn
servers (issue 25, items 6 and 2).

The read flood: `flood_reads` reads of one link of a sealed packet (60,000 at full size: before
the change, a 19 MB custody log that every export carried past the import's 16 MiB, and a
viewer page of 0.86 s), sent by 16 clients to a server whose limit of uses a minute is turned
off. Reported: the packet's custody log (entries, and bytes as `custody.jsonl` carries them)
before and after, the viewer page's time before and after, and whether an export made after
the flood verifies with `arkham-packets verify`. Then, on a server with the default settings:
the link's limit a minute (32 clients reading one link for `lockout_seconds`, at most a
minute: uses admitted and refused), and the lockout burst: waves of 60 concurrent guesses (59
wrong passwords and the right one) for the same time, counting the passwords the server
checked (wrong ones logged as failures, right ones answered). Targets: the flood adds at most
3 custody entries (one an hour for the link, the run spanning at most two hours' ends) and
leaves the viewer within 1.5x of before at the median, its export verifies, the link admits at
most its limit plus the uses already under way, and no more than 5 wrong passwords are
checked in the minute.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from arkham_shard_packets.core.canonical import canonical_json
from arkham_shard_packets.db.tables import share_access_log
from arkham_shard_packets.sharing.pace import USES_PER_MINUTE

from ..server import ROOT, live_server
from ..stats import Sample, SectionResult, Target, ms, timed
from ..workbench import BenchDatabase, Workbench

NAME = "floods"
TITLE = "Floods: a share link used without end, and a burst of password guesses"
API = "/api/packets"
LIMIT_SETTING = "ARKHAM_PACKETS_SHARE_LINK_USES_PER_MINUTE"
FLOOD_CLIENTS = 16
PACE_CLIENTS = 32
GUESSES = 60
VIEWS = 15
PASSWORD = "correct horse battery"
ENTRIES_LIMIT = 3
VIEWER_LIMIT = 1.5
WRONG_CHECKED_LIMIT = 5  # the lockout: 5 wrong passwords a minute


@contextmanager
def uses_per_minute(limit: int) -> Iterator[None]:
    """The servers started inside take this limit (they read it from the environment)."""
    before = os.environ.get(LIMIT_SETTING)
    os.environ[LIMIT_SETTING] = str(limit)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(LIMIT_SETTING, None)
        else:
            os.environ[LIMIT_SETTING] = before


async def sealed_and_shared(client: httpx.AsyncClient, **share: Any) -> tuple[str, dict[str, Any]]:
    packet = (await client.post(f"{API}/", json={"name": "Flooded"})).json()
    for n in range(3):
        body = {"content_type": "document", "content_id": f"doc-{n}", "data": {"pages": n}}
        await client.post(f"{API}/{packet['id']}/contents", json=body)
    await client.post(f"{API}/{packet['id']}/finalize")
    link = await client.post(f"{API}/{packet['id']}/share", json={"shared_with": "public", **share})
    return packet["id"], link.json()


async def custody_size(client: httpx.AsyncClient, packet_id: str) -> dict[str, int]:
    """The log's entries, and its bytes as an export's custody.jsonl carries them."""
    entries: list[Any] = []
    while True:
        page = (
            await client.get(
                f"{API}/{packet_id}/custody", params={"limit": 10_000, "offset": len(entries)}
            )
        ).json()
        entries += page["entries"]
        if len(entries) >= page["length"] or not page["entries"]:
            break
    size = sum(len(canonical_json(entry).encode()) + 1 for entry in entries)
    used = sum(1 for entry in entries if entry["event"] == "link_used")
    return {"entries": len(entries), "link_used": used, "bytes": size}


async def viewer_times(client: httpx.AsyncClient, token: str) -> Sample:
    sample = Sample()
    for _ in range(VIEWS):
        response = await timed(sample, client.get(f"{API}/shared/{token}/view"))
        response.raise_for_status()
    return sample


async def read_until(base_url: str, url: str, left: list[int], answers: Counter[str]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        while left[0] > 0:
            left[0] -= 1
            try:
                answers[f"HTTP {(await client.get(url)).status_code}"] += 1
            except httpx.HTTPError as error:
                answers[type(error).__name__] += 1


def verifies(bundle: Path, key: str) -> int:
    """`arkham-packets verify`'s exit status on the bundle, trusting `key` (0: it checks)."""
    command = ["verify", str(bundle), "--trust", key, "--quiet"]
    done = subprocess.run(
        [sys.executable, "-m", "arkham_shard_packets.cli", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode


async def read_flood(database: BenchDatabase, reads: int) -> dict[str, Any]:
    with uses_per_minute(0):  # no limit: the flood is all reads answered
        server = live_server(database.url, database.data_dir)
        async with server as base_url, httpx.AsyncClient(base_url=base_url, timeout=120) as client:
            packet_id, link = await sealed_and_shared(client)
            token = link["access_token"]
            before = await custody_size(client, packet_id)
            viewer_before = await viewer_times(client, token)
            answers: Counter[str] = Counter()
            left = [reads]
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    read_until(base_url, f"{API}/shared/{token}", left, answers)
                    for _ in range(FLOOD_CLIENTS)
                )
            )
            flood_s = time.perf_counter() - start
            await client.get(f"{API}/{packet_id}/shares")  # writes what was answered
            after = await custody_size(client, packet_id)
            viewer_after = await viewer_times(client, token)
            exported = (
                await client.post(f"{API}/{packet_id}/export", json={"format": "zip"})
            ).json()
            bundle = database.data_dir / "flooded.zip"
            bundle.write_bytes((await client.get(exported["download_url"])).content)
            key = (await client.get(f"{API}/keys")).json()["keys"][0]["fingerprint"]
    return {
        "reads": reads,
        "answers": dict(answers),
        "reads_per_s": round(reads / flood_s, 1),
        "custody_before": before,
        "custody_after": after,
        "viewer_before": viewer_before,
        "viewer_after": viewer_after,
        "verify_exit": await asyncio.to_thread(verifies, bundle, key),
    }


async def pace(base_url: str, token: str, seconds: float) -> Counter[str]:
    """Reads through one link for `seconds`, and at least past its limit a minute however slow
    the machine: a loaded machine that sends fewer than the limit in the time shows no pace."""
    answers: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    at_least = USES_PER_MINUTE + 2 * PACE_CLIENTS

    def more() -> bool:
        return time.monotonic() < deadline or sum(answers.values()) < at_least

    async def reader() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            while more():
                try:
                    response = await client.get(f"{API}/shared/{token}")
                except httpx.HTTPError as error:  # a kept-alive connection closed meanwhile
                    answers[type(error).__name__] += 1
                    continue
                answers[f"HTTP {response.status_code}"] += 1

    await asyncio.gather(*(reader() for _ in range(PACE_CLIENTS)))
    return answers


async def guesses(base_url: str, token: str, seconds: float) -> Counter[str]:
    """Waves of GUESSES at once, one of them right, until `seconds` have passed."""
    answers: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=GUESSES)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:

        async def guess(password: str) -> None:
            headers = {"X-Share-Password": password}
            right = "right" if password == PASSWORD else "wrong"
            try:
                response = await client.get(f"{API}/shared/{token}", headers=headers)
            except httpx.HTTPError as error:  # a kept-alive connection closed meanwhile
                answers[f"{right}: {type(error).__name__}"] += 1
                return
            answers[f"{right}: HTTP {response.status_code}"] += 1

        while time.monotonic() < deadline:
            tries = [f"wrong guess {n}" for n in range(GUESSES - 1)] + [PASSWORD]
            await asyncio.gather(*(guess(password) for password in tries))
    return answers


async def failures_logged(database: BenchDatabase, share_id: str) -> int:
    async with database.engine.connect() as conn:
        statement = select(func.count()).where(
            share_access_log.c.share_id == share_id,
            share_access_log.c.action == "password_failure",
        )
        return int((await conn.execute(statement)).scalar_one())


async def limits(database: BenchDatabase, seconds: float) -> dict[str, Any]:
    async with live_server(database.url, database.data_dir) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
            _, busy = await sealed_and_shared(client)
            _, locked = await sealed_and_shared(client, password=PASSWORD)
        paced = await pace(base_url, busy["access_token"], seconds)
        guessed = await guesses(base_url, locked["access_token"], seconds)
    wrong = await failures_logged(database, locked["id"])
    right = guessed["right: HTTP 200"]
    return {
        "seconds": seconds,
        "pace": {"clients": PACE_CLIENTS, "limit": USES_PER_MINUTE, "answers": dict(paced)},
        "lockout": {
            "guesses_at_once": GUESSES,
            "answers": dict(guessed),
            "wrong_checked": wrong,
            "right_checked": right,
            "checked": wrong + right,
        },
    }


async def run(bench: Workbench) -> SectionResult:
    database = await bench.database("floods")
    flood = await read_flood(database, bench.plan.flood_reads)
    window = min(bench.plan.lockout_seconds, 60.0)
    bounds = await limits(database, window)
    before, after = flood["custody_before"], flood["custody_after"]
    added = after["entries"] - before["entries"]
    viewer_before, viewer_after = flood["viewer_before"], flood["viewer_after"]
    ratio = viewer_after.median_ms / viewer_before.median_ms
    admitted = bounds["pace"]["answers"].get("HTTP 200", 0)
    lockout = bounds["lockout"]
    rows = [
        ["custody log, entries", f"{before['entries']:,}", f"{after['entries']:,}"],
        ["custody log, bytes", f"{before['bytes']:,}", f"{after['bytes']:,}"],
        ["viewer page p50 ms", ms(viewer_before.median_ms), ms(viewer_after.median_ms)],
        ["viewer page p99 ms", ms(viewer_before.p99_ms), ms(viewer_after.p99_ms)],
    ]
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=[f"after {flood['reads']:,} link reads", "before", "after"],
        rows=rows,
        figures={
            **flood,
            "viewer_before": viewer_before.summary(),
            "viewer_after": viewer_after.summary(),
            **bounds,
        },
        targets=[
            Target("floods: custody entries a read flood adds", added, ENTRIES_LIMIT, unit=""),
            Target("floods: viewer after / before the flood (median)", ratio, VIEWER_LIMIT),
            Target(
                "floods: the flooded packet's export verifies (exit status)",
                flood["verify_exit"],
                0,
                unit="",
            ),
            Target(
                "floods: uses a link admits in a minute",
                admitted,
                USES_PER_MINUTE + PACE_CLIENTS,
                unit="",
            ),
            Target(
                "floods: wrong passwords checked in a minute",
                lockout["wrong_checked"],
                WRONG_CHECKED_LIMIT,
                unit="",
            ),
        ],
        notes=[
            f"{flood['reads']:,} reads by {FLOOD_CLIENTS} clients at {flood['reads_per_s']:,} a "
            f"second: {flood['answers']}. The custody log went from {before['link_used']} to "
            f"{after['link_used']} link_used entries.",
            f"Default limit of {USES_PER_MINUTE} uses a minute, {PACE_CLIENTS} clients for "
            f"{window:g} s: {bounds['pace']['answers']}.",
            f"{GUESSES} guesses at once (one right) for {window:g} s: {lockout['answers']}; "
            f"passwords checked: {lockout['wrong_checked']} wrong, {lockout['right_checked']} "
            "right.",
        ],
    )
