"""Crash leftovers are swept while the server runs, not only at its next start."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def sweep_often(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_RECOVERY_SWEEP_SECONDS", "0.2")


def leave(path: Path, age: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"left behind")
    moment = time.time() - age
    os.utime(path, (moment, moment))


def existing(paths: list[Path]) -> list[Path]:
    return [path for path in paths if path.exists()]


async def test_leftovers_are_swept_while_running(sweep_often: None, app: Any) -> None:
    data_dir: Path = app.state.packets_shard.services.data_dir
    old = [
        data_dir / "files" / ".staging" / ".spool-crashed",
        data_dir / "exports" / ".packet-x.zip.1.part",
        data_dir / "tmp" / ".spool-crashed",
    ]
    young = data_dir / "tmp" / ".spool-in-use"
    for path in old:
        await asyncio.to_thread(leave, path, 7200)  # past the grace period (an hour)
    await asyncio.to_thread(leave, young, 0)
    for _ in range(100):
        if not await asyncio.to_thread(existing, old):
            break
        await asyncio.sleep(0.1)
    assert await asyncio.to_thread(existing, old) == []
    assert await asyncio.to_thread(existing, [young]) == [young]
