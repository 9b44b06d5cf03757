"""The command line run inside the test's own process: the same `main` with the same arguments
and environment, what it prints and its status, without a new interpreter's second or so of
start-up. For tests of what a command says and does; how a process starts and ends (exit on a
closed pipe, tracebacks, signals) is tested on real processes (test_cli.py, the docs'
examples, test_installation.py)."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import threading
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from unittest.mock import patch

from arkham_shard_packets.cli.main import main

# A command owns sys.stdout, sys.stderr and the environment while it runs: one at a time.
_running = threading.Lock()


async def run_cli(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`arkham-packets ARGS` with `env` added to the environment, in a thread of its own (the
    command runs its own event loop)."""
    return await asyncio.to_thread(_run, list(args), dict(env or {}))


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with _running, patch.dict(os.environ, env), redirect_stdout(out), redirect_stderr(err):
        try:
            status = main(args)
        except SystemExit as leaving:  # argparse's usage errors
            status = leaving.code if isinstance(leaving.code, int) else 1
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())
