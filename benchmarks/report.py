"""Printing the results as Markdown tables (ready for the README) and writing the JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .stats import SectionResult


def table(columns: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [columns, *rows]) for i in range(len(columns))]

    def line(cells: list[str]) -> str:
        padded = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(columns), rule, *(line(row) for row in rows)])


def render(result: SectionResult) -> str:
    parts = [f"### {result.title}", "", table(result.columns, result.rows)]
    if result.notes:
        parts += ["", *result.notes]
    return "\n".join(parts)


def summary(results: list[SectionResult]) -> str:
    targets = [target for result in results for target in result.targets]
    missed = [target for target in targets if not target.met]
    lines = [f"Targets met: {len(targets) - len(missed)} of {len(targets)}."]
    lines += [f"- missed: {target.name}: {target.describe()}" for target in missed]
    return "\n".join(lines)


def write_json(path: Path, meta: dict[str, Any], results: list[SectionResult]) -> None:
    document = {
        **meta,
        "sections": {
            result.name: {
                "title": result.title,
                "figures": result.figures,
                "targets": [target.to_json() for target in result.targets],
                "notes": result.notes,
            }
            for result in results
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
