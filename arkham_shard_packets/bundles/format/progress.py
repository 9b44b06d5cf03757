"""How long bundle work reports how far it got: first the total it expects, then each step,
in the same unit (bytes)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def expect(self, total: int, /) -> object: ...

    def __call__(self, done: int, /) -> object: ...
