"""Property: every bundle this shard exports, in every format, imports again and gives back the
same packet, whatever its files: highly compressible (one line repeated, zeros), incompressible
(random) or empty, drafts and sealed packets alike."""

from __future__ import annotations

import os
import random
from functools import partial
from typing import Any

import httpx
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .bundle_helpers import attach, export
from .conftest import add_item, make_packet
from .test_import import forget, state, upload

MIB = 1024 * 1024
EXAMPLES = int(os.environ.get("PACKETS_ROUNDTRIP_EXAMPLES", "6"))


def content_of(kind: str, size: int, seed: int) -> bytes:
    if kind == "repeated line":
        line = b"2026-11-26 06:45:46 INFO heartbeat ok\n"
        return (line * (size // len(line) + 1))[:size]
    if kind == "zeros":
        return bytes(size)
    return random.Random(seed).randbytes(size)


files = st.lists(
    st.tuples(
        st.sampled_from(["repeated line", "zeros", "random"]),
        st.sampled_from([0, 1, 4096, 2 * MIB + 17]),  # 2 MiB of one line: ratio above 1000
        st.integers(0, 2**32),
    ),
    min_size=1,
    max_size=3,
)
# text the API accepts (core/bounds.py): no NUL, no lone surrogates
text = partial(st.text, st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
data = st.none() | st.dictionaries(
    text(min_size=1, max_size=8),
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text(max_size=20),
    max_size=4,
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(files=files, data=data, sealed=st.booleans())
async def test_every_export_imports_again(
    client: httpx.AsyncClient,
    app: FastAPI,
    files: list[tuple[str, int, int]],
    data: dict[str, Any] | None,
    sealed: bool,
) -> None:
    packet = await make_packet(client, "Round trip", metadata={"case": "R-1"})
    pid = packet["id"]
    for number, (kind, size, seed) in enumerate(files):
        item = await add_item(client, pid, f"doc-{number}", data=data, order=number)
        content = content_of(kind, size, seed)
        response = await attach(client, pid, item["id"], content, f"{kind}.bin", "text/plain")
        assert response.status_code == 200, response.text
    if sealed:
        assert (await client.post(f"/api/packets/{pid}/finalize")).status_code == 200
    before = await state(client, pid)
    for fmt in ("zip", "tar.gz", "json"):
        _, archive = await export(client, pid, fmt)
        await forget(client, app, pid)
        response = await upload(client, archive, name=f"bundle.{fmt}")
        assert response.status_code == 201, (fmt, files, response.text)
        assert response.json()["verified"] is sealed
        assert await state(client, pid) == before, fmt
    await forget(client, app, pid)
