"""A scratch folder for what an export, a disclosure or an import writes or unpacks on its way."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from ..core.file_modes import FileModes


@contextlib.asynccontextmanager
async def scratch_folder(modes: FileModes, work_dir: Path) -> AsyncIterator[Path]:
    """A private folder of its own under the work folder, removed with all it holds."""
    await asyncio.to_thread(modes.make_folder, work_dir)
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, dir=work_dir))
    try:
        yield folder
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
