"""The progress bar of `export`, `import` and `verify`: on stderr, and only when stderr is a
terminal (and without --quiet); the total, percent, binary units (KiB, MiB, GiB) and an ETA."""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any

from tqdm import tqdm

BAR = "{desc} {percentage:3.0f}%|{bar}| {done} of {size} [{elapsed}<{remaining}, {speed}]"


def binary_size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def terminal_width() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns or 80
    except (OSError, ValueError):
        return 80


class ByteBar(tqdm):  # type: ignore[type-arg]
    @property
    def format_dict(self) -> MutableMapping[str, Any]:
        fields = super().format_dict
        elapsed = fields.get("elapsed") or 0
        rate = fields.get("rate") or (fields["n"] / elapsed if elapsed else None)
        fields["done"] = binary_size(fields["n"])
        fields["size"] = binary_size(fields["total"] or 0)
        fields["speed"] = f"{binary_size(rate)}/s" if rate else "… B/s"
        return fields


class Meter:
    """What the bundle code reports to (bundles/format/progress.Progress). The bar appears
    once the total is known."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.shown = not quiet and sys.stderr.isatty()
        self.bar: ByteBar | None = None

    def expect(self, total: int) -> None:
        if not self.shown:
            return
        if self.bar is None:
            # a terminal that reports no width (some pseudo-terminals) gets 80 columns
            width = terminal_width()
            self.bar = ByteBar(
                desc=self.label, total=total, file=sys.stderr, bar_format=BAR, ncols=width
            )
        else:
            self.bar.total = total
            self.bar.refresh()

    def __call__(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done)

    def say(self, line: str) -> None:
        """A line on stdout, printed above the bar (which is drawn again below it)."""
        if self.bar is None:
            print(line, flush=True)
        else:
            self.bar.write(line, file=sys.stdout)

    def __enter__(self) -> Meter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.bar is not None:
            self.bar.close()
