"""Every documented example runs: the README's walkthrough and every marked example in
production.md and docs/, against a live standalone host, so none can drift from what the
shard does. How blocks are marked: tests/doc_examples.py."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from arkham_shard_packets.config import Settings

from .conftest import POSTGRES_URL, reset_postgres
from .doc_examples import (
    EXAMPLE_LANGUAGES,
    ROOT,
    blocks_of,
    documents,
    problems_of,
    script_of,
    shown,
)
from .live_host import LiveHost, running

RUNNABLE = [path for path in documents() if any(block.runs for block in blocks_of(path))]


def test_every_example_is_marked_to_run_or_says_why_not() -> None:
    problems = [
        problem for path in documents() for b in blocks_of(path) for problem in problems_of(b)
    ]
    assert problems == []


def test_the_walkthrough_runs_every_step() -> None:
    readme = blocks_of(ROOT / "README.md")
    shell = [block for block in readme if block.language == "bash"]
    assert shell[0].mark[0] == "not-run:"  # the set-up commands themselves
    assert all(block.runs for block in shell[1:])
    walked = "".join(block.body for block in shell[1:])
    for step in ("POST $API/ ", "/contents", "/file", "/finalize", "/verify", "/share", "/export"):
        assert step in walked
    assert ".venv/bin/arkham-packets verify" in walked
    assert ".venv/bin/arkham-packets import" in walked


def test_the_readme_starts_with_the_two_set_up_commands() -> None:
    first = blocks_of(ROOT / "README.md")[0]
    serve, suite = first.body.splitlines()
    assert serve == (
        "python3 -m venv .venv && .venv/bin/pip install -e . && "
        ".venv/bin/arkham-packets serve --host 127.0.0.1 --port 8100"
    )
    assert suite == (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    )
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "python3 -m venv .venv" in ci
    assert ".venv/bin/pip install -q -e '.[test]'" in ci
    assert ".venv/bin/python -m pytest" in ci


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder like the reader's: the checkout's virtual environment as `.venv`."""
    work = tmp_path / "work"
    work.mkdir()
    assert (Path(sys.prefix) / "bin" / "arkham-packets").exists(), "run the suite from a venv"
    (work / ".venv").symlink_to(sys.prefix)
    return work


@pytest.fixture
def host(workdir: Path) -> Iterator[LiveHost]:
    """The host the first README command starts: its data directory `./arkham-packets-data`
    (on PostgreSQL, the suite's database)."""
    data_dir = workdir / "arkham-packets-data"
    url = POSTGRES_URL or f"sqlite:///{data_dir / 'packets.db'}"
    if POSTGRES_URL:
        asyncio.run(reset_postgres(POSTGRES_URL))
    with running(data_dir, url) as served:
        yield served


@pytest.mark.parametrize("path", RUNNABLE, ids=shown)
def test_the_examples_run(path: Path, host: LiveHost, workdir: Path) -> None:
    database = "postgresql" if POSTGRES_URL else "sqlite"
    script = script_of(blocks_of(path), database, f"127.0.0.1:{host.port}", host.database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
    env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    ran = subprocess.run(
        ["bash", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, f"{shown(path)}'s examples failed:\n{ran.stdout}\n{ran.stderr}"


def test_every_setting_is_documented() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    prefix = Settings.model_config.get("env_prefix", "")
    missing = [
        f"{prefix}{name}".upper()
        for name in Settings.model_fields
        if f"`{prefix}{name}`".upper() not in documented.upper()
    ]
    assert missing == []


def test_each_document_names_the_server_once() -> None:
    """The examples reach the server through one variable, `SERVER`, set once per document:
    serving on another port (`--port`, ARKHAM_PACKETS_PORT) is one edit, not one a call."""
    for path in documents():
        shells = [b for b in blocks_of(path) if b.language in EXAMPLE_LANGUAGES]
        if path.name == "README.md":
            shells = shells[1:]  # the set-up commands, which serve on the address
        named = [
            line.strip()
            for block in shells
            for line in block.body.splitlines()
            if re.search(r":8100\b", line)  # the documented server's port
        ]
        assert len(named) <= 1, (shown(path), named)
        assert all(line.startswith("SERVER=http://127.0.0.1:8100") for line in named), named
        calls = "".join(block.body for block in shells)
        if "$API" in calls:
            assert "API=$SERVER/api/packets" in calls, shown(path)
