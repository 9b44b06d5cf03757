"""The benchmark's sections, in the order a full run takes them.

A section is a module with `NAME`, `TITLE` and `async def run(bench: Workbench) -> SectionResult`.
It may grow the workbench's database but never shrinks it; later sections run on what earlier
ones left (and say how many packets that was). Add a section by adding a module here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType

from ..stats import SectionResult
from ..workbench import Workbench
from . import (
    bulk,
    floods,
    growth,
    hostile,
    load,
    memory,
    overhead,
    refusals,
    seal,
    transfer,
    trips,
)

Runner = Callable[[Workbench], Awaitable[SectionResult]]

MODULES: list[ModuleType] = [
    growth,
    overhead,
    seal,
    bulk,
    memory,
    load,
    hostile,
    refusals,
    trips,
    floods,
    transfer,
]
SECTIONS: dict[str, Runner] = {module.NAME: module.run for module in MODULES}
