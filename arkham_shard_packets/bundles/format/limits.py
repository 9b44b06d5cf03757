"""What an imported bundle may be: every limit is checked before anything is written."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class ImportLimits:
    max_archive_bytes: int = 4096 * MIB
    max_entries: int = 10_000
    max_total_bytes: int = 8192 * MIB  # uncompressed, all entries together
    max_ratio: float = 200.0  # uncompressed / compressed, per entry and overall
    max_json_bytes: int = 256 * MIB  # a json bundle is parsed whole
