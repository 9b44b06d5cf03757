"""Nobody without a credential can exhaust the server: 100 MiB bodies sent without the API
token (to share link routes, which are exempt from it, and to a guarded route) while
authenticated clients work (issue 13, finding 1).

This checks bounds, not speed: every authenticated request succeeds, every attack is refused
(404, 413, 401) or cut off, the server's peak memory grows by less than 32 MB and no file is
left behind. The figures themselves (latency alone and under attack) are the benchmark's
section `hostile`; this test prints them."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.sections.hostile import READERS, TOKEN, siege
from benchmarks.server import live_process

from .conftest import POSTGRES_URL, reset_postgres

REFUSED = re.compile(r": (HTTP (401|404|413)|closed early \(\w+\))$")


async def test_oversized_bodies_without_a_credential_do_not_hurt_the_others(
    database_url: str, tmp_path: Path
) -> None:
    if POSTGRES_URL:
        await reset_postgres(POSTGRES_URL)
    data_dir = tmp_path / "data"
    async with live_process(database_url, data_dir, api_token=TOKEN) as server:
        measured = await siege(server.base_url, server.pid, data_dir, seconds=2.0)
    result = measured["siege"]
    before, after = measured["memory_before"], measured["memory_after"]
    print(
        f"\nGET /{{id}} by {READERS} authenticated clients: alone p50 "
        f"{result.alone.median_ms:.1f} ms p99 {result.alone.p99_ms:.1f} ms ({result.alone.count}); "
        f"under attack p50 {result.attacked.median_ms:.1f} ms p99 {result.attacked.p99_ms:.1f} "
        f"ms ({result.attacked.count}). Server peak {before['peak_mb']} -> {after['peak_mb']} MB. "
        f"Attacks: {dict(result.outcomes)}"
    )
    assert not result.failures, result.failures
    assert result.attacked.count > 0
    assert sum(result.outcomes.values()) >= 8, result.outcomes
    for outcome in result.outcomes:
        assert REFUSED.search(outcome), outcome
    assert after["peak_mb"] - before["peak_mb"] < 32, (before, after)
    assert measured["leftover_files"] == 0
