"""The checks a reviewer runs: ruff (lint and format) and mypy in strict mode. They are a step of
their own in CI (.ci/run), before the suite, and a command of their own in the README, not tests
in the suite: mypy alone took a tenth of the suite's time. This holds both to them."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKS = [".venv/bin/ruff check .", ".venv/bin/ruff format --check .", ".venv/bin/mypy"]


def test_ci_runs_ruff_and_mypy_before_the_suite() -> None:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    suite = lines.index(".venv/bin/python -m pytest")
    assert all(check in lines[:suite] for check in CHECKS), lines[:suite]


def test_the_readme_gives_the_checks_as_one_command() -> None:
    assert f"`{' && '.join(CHECKS)}`" in (ROOT / "README.md").read_text(encoding="utf-8")
