"""The progress bar of `export`, `import`, `verify` and `store migrate`: on stderr, and only when
stderr is a terminal (and without --quiet); the total, percent, binary units (KiB, MiB, GiB),
how many of how many things when it counts them, and an ETA."""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any

from tqdm import tqdm

BAR = "{desc} {percentage:3.0f}%|{bar}| {done} of {size}{counted} [{elapsed}<{remaining}, {speed}]"


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
    counted = ""  # ", 12 of 40 objects" when the bar counts things too

    @property
    def format_dict(self) -> MutableMapping[str, Any]:
        fields = super().format_dict
        elapsed = fields.get("elapsed") or 0
        rate = fields.get("rate") or (fields["n"] / elapsed if elapsed else None)
        fields["done"] = binary_size(fields["n"])
        fields["size"] = binary_size(fields["total"] or 0)
        fields["speed"] = f"{binary_size(rate)}/s" if rate else "… B/s"
        fields["counted"] = self.counted
        return fields


class Meter:
    """What the bundle code reports to (bundles/format/progress.Progress), and a move of
    objects: bytes, and with `things` named, how many of them. The bar appears once the total
    is known."""

    def __init__(self, label: str, quiet: bool, things: str | None = None) -> None:
        self.label = label
        self.shown = not quiet and sys.stderr.isatty()
        self.bar: ByteBar | None = None
        self.things = things
        self.count = 0
        self.counted = 0

    def expect(self, total: int, count: int = 0) -> None:
        self.count = count
        if not self.shown:
            return
        if self.bar is None:
            # a terminal that reports no width (some pseudo-terminals) gets 80 columns
            width = terminal_width()
            self.bar = ByteBar(
                desc=self.label, total=total, file=sys.stderr, bar_format=BAR, ncols=width
            )
            self._count(0)
        else:
            self.bar.total = total
            self.bar.refresh()

    def __call__(self, done: int, counted: int = 0) -> None:
        if self.bar is not None:
            self._count(counted)
            self.bar.update(done)

    def _count(self, more: int) -> None:
        self.counted += more
        if self.bar is not None and self.things is not None:
            self.bar.counted = f", {self.counted} of {self.count} {self.things}"

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
