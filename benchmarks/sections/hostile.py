"""Section 7, hostile: oversized bodies from clients without a credential, sent while
authenticated clients work, on a live uvicorn server guarded by an API token.

Eight attackers (in a process of their own) send bodies of 100 MiB as fast as loopback takes
them, each a quarter of a second after its last answer: JSON comments to an unknown share
link, the viewer's form with a multipart file to an unknown link, a comment to a real comment
link (all exempt from the token: the link is their credential), and a packet to `POST /`
without the token. Meanwhile authenticated clients read a packet (`GET /{id}`). Reported: the
reads' p50 and p99 alone and under attack, what the attackers got back, how much of each body
they got to send, and the server's peak memory (VmHWM) before and after. Targets: reads under
attack within 2x of alone at the median, no authenticated request failing, the server's peak
growing by at most 32 MB, nothing left in its temporary folders.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..server import ROOT, live_process
from ..stats import Sample, SectionResult, Target, ms
from ..workbench import Workbench
from .memory import memory_of

NAME = "hostile"
TITLE = "Hostile: oversized bodies without a credential while authenticated clients work"
API = "/api/packets"
TOKEN = "bench-hostile-token"
CHUNK = 64 * 1024
BODY_BYTES = 100 * 1024 * 1024
READERS = 4
# Between two attempts of one attacker: the bodies are the weapon measured here, not the
# rate of requests (which no body limit bounds).
PAUSE_S = 0.25
MEDIAN_LIMIT = 2.0
GROWTH_LIMIT_MB = 32.0


@dataclass
class Siege:
    """What one run saw: the readers' durations alone and under attack, the attacks' outcomes."""

    alone: Sample = field(default_factory=Sample)
    attacked: Sample = field(default_factory=Sample)
    failures: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    sent: dict[str, list[int]] = field(default_factory=dict)


class Flood:
    """A body of `BODY_BYTES` in chunks, counting what the server took before it answered."""

    def __init__(self, first: bytes = b"") -> None:
        self.first = first
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b"x" * CHUNK
        if self.first:
            self.taken += len(self.first)
            yield self.first
        while self.taken < BODY_BYTES:
            self.taken += len(chunk)
            yield chunk


ATTACKS = {
    "JSON comment, unknown link": ("/shared/not-a-link/comments", "application/json", b'{"a":"'),
    "viewer form with a file, unknown link": (
        "/shared/not-a-link/view",
        "multipart/form-data; boundary=b",
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n',
    ),
    "JSON comment, real link": ("/shared/{token}/comments", "application/json", b'{"author":"'),
    "POST / without the token": ("/", "application/json", b'{"name":"'),
}


async def attack(base_url: str, kind: str, link: str, deadline: float, siege: Siege) -> None:
    path, content_type, first = ATTACKS[kind]
    url = API + path.format(token=link)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while time.monotonic() < deadline:
            body = Flood(first)
            try:
                response = await client.post(
                    url, content=body, headers={"content-type": content_type}
                )
                outcome = f"HTTP {response.status_code}"
            except httpx.HTTPError as error:  # the server answered early and hung up
                outcome = f"closed early ({type(error).__name__})"
            siege.outcomes[f"{kind}: {outcome}"] += 1
            siege.sent.setdefault(kind, []).append(body.taken)
            await asyncio.sleep(PAUSE_S)


async def read(
    base_url: str, packet_id: str, deadline: float, sample: Sample, siege: Siege
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                response = await client.get(f"{API}/{packet_id}")
            except httpx.HTTPError as error:
                siege.failures[type(error).__name__] += 1
                continue
            if response.status_code != 200:
                siege.failures[f"HTTP {response.status_code}"] += 1
                continue
            sample.add(time.perf_counter() - start)


async def prepare(base_url: str) -> tuple[str, str]:
    """A packet to read and a comment link to send comments to."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        packet = (await client.post(f"{API}/", json={"name": "Under siege"})).json()
        link = await client.post(
            f"{API}/{packet['id']}/share", json={"shared_with": "public", "permissions": "comment"}
        )
        return packet["id"], link.json()["access_token"]


def leftovers(data_dir: Path) -> int:
    folders = (data_dir / "tmp", data_dir / "files" / ".staging")
    return sum(1 for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file())


async def attackers(base_url: str, link: str, seconds: float) -> Siege:
    result = Siege()
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(attack(base_url, kind, link, deadline, result) for kind in ATTACKS for _ in range(2))
    )
    return result


def attack_in_a_process(
    base_url: str, link: str, seconds: float
) -> tuple[Counter[str], dict[str, list[int]]]:
    """The attackers run in a process of their own, as they would on other machines: in the
    readers' event loop they would slow the readers down themselves."""
    code = (
        "import asyncio, json, sys\n"
        "from benchmarks.sections.hostile import attackers\n"
        "done = asyncio.run(attackers(sys.argv[1], sys.argv[2], float(sys.argv[3])))\n"
        "print(json.dumps({'outcomes': done.outcomes, 'sent': done.sent}))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code, base_url, link, str(seconds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(finished.stdout)
    return Counter(report["outcomes"]), report["sent"]


async def siege(base_url: str, pid: int, data_dir: Path, seconds: float) -> dict[str, Any]:
    """The whole measurement against a live server that requires `TOKEN`."""
    result = Siege()
    packet_id, link = await prepare(base_url)
    before = memory_of(pid)
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(read(base_url, packet_id, deadline, result.alone, result) for _ in range(READERS))
    )
    flood = asyncio.create_task(asyncio.to_thread(attack_in_a_process, base_url, link, seconds + 1))
    await asyncio.sleep(1)  # the attackers are under way
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(read(base_url, packet_id, deadline, result.attacked, result) for _ in range(READERS))
    )
    result.outcomes, result.sent = await flood
    after = memory_of(pid)
    return {
        "siege": result,
        "memory_before": before,
        "memory_after": after,
        "leftover_files": leftovers(data_dir),
    }


async def run(bench: Workbench) -> SectionResult:
    database = await bench.database("hostile")
    async with live_process(database.url, database.data_dir, api_token=TOKEN) as server:
        measured = await siege(
            server.base_url, server.pid, database.data_dir, bench.plan.hostile_seconds
        )
    result: Siege = measured["siege"]
    before, after = measured["memory_before"], measured["memory_after"]
    ratio = result.attacked.median_ms / result.alone.median_ms
    growth = after["peak_mb"] - before["peak_mb"]
    failures = sum(result.failures.values())
    most_taken = {kind: max(sizes) for kind, sizes in result.sent.items()}
    rows = [
        ["GET /{id}, authenticated, alone", f"{result.alone.count:,}",
         ms(result.alone.median_ms), ms(result.alone.p99_ms)],
        ["GET /{id}, authenticated, under attack", f"{result.attacked.count:,}",
         ms(result.attacked.median_ms), ms(result.attacked.p99_ms)],
    ]  # fmt: skip
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=["requests", "ok", "p50 ms", "p99 ms"],
        rows=rows,
        figures={
            "seconds": bench.plan.hostile_seconds,
            "readers": READERS,
            "alone": result.alone.summary(),
            "attacked": result.attacked.summary(),
            "failures": dict(result.failures),
            "outcomes": dict(result.outcomes),
            "most_bytes_sent_per_attack": most_taken,
            "memory_before": before,
            "memory_after": after,
            "leftover_files": measured["leftover_files"],
        },
        targets=[
            Target("hostile: reads under attack / alone (median)", ratio, MEDIAN_LIMIT),
            Target("hostile: authenticated requests failed", failures, 0, unit=""),
            Target("hostile: server peak growth", growth, GROWTH_LIMIT_MB, unit=" MB"),
            Target("hostile: files left in tmp", measured["leftover_files"], 0, unit=""),
        ],
        notes=[
            f"{READERS} readers, {len(ATTACKS) * 2} attackers, {bench.plan.hostile_seconds:g} s "
            f"each phase. Attacks answered: {json.dumps(dict(result.outcomes), sort_keys=True)}.",
            "Most bytes an attack got to send before the server answered (client side, the "
            f"kernel's socket buffers included): {json.dumps(most_taken, sort_keys=True)}.",
            f"Server peak {before['peak_mb']} MB before, {after['peak_mb']} MB after.",
        ],
    )
