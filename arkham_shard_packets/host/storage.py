"""Local file storage with the Frame storage service's interface."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from ..core.file_modes import PRIVATE, FileModes


class LocalStorage:
    def __init__(self, base_path: Path, modes: FileModes = PRIVATE) -> None:
        self.base_path = base_path
        self.modes = modes

    def _locate(self, storage_id: str) -> Path:
        category, _, name = storage_id.partition("/")
        if not name or "/" in name or name.startswith(".") or category.startswith("."):
            raise FileNotFoundError(storage_id)
        return self.base_path / category / name

    async def store(
        self,
        path: str,
        content: bytes,
        metadata: dict[str, Any] | None = None,
        category: str = "documents",
    ) -> str:
        name = f"{uuid.uuid4().hex}-{Path(path).name}"
        storage_id = f"{category}/{name}"
        target = self._locate(storage_id)
        info = {"path": path, "size": len(content), "metadata": metadata or {}}

        def write() -> None:
            self.modes.make_folder(target.parent)
            with self.modes.create(target) as out:
                out.write(content)
            with self.modes.create(target.with_name(target.name + ".meta.json")) as out:
                out.write(json.dumps(info).encode())

        await asyncio.to_thread(write)
        return storage_id

    async def retrieve(self, storage_id: str) -> tuple[bytes, dict[str, Any]]:
        info = await self.get_file_info(storage_id)
        content = await asyncio.to_thread(self._locate(storage_id).read_bytes)
        return content, info.get("metadata", {})

    async def exists(self, storage_id: str) -> bool:
        try:
            return self._locate(storage_id).is_file()
        except FileNotFoundError:
            return False

    async def get_file_info(self, storage_id: str) -> dict[str, Any]:
        target = self._locate(storage_id)
        info: dict[str, Any] = json.loads(target.with_name(target.name + ".meta.json").read_text())
        return {"storage_id": storage_id, **info}

    async def delete(self, storage_id: str) -> bool:
        target = self._locate(storage_id)
        existed = target.is_file()
        target.unlink(missing_ok=True)
        target.with_name(target.name + ".meta.json").unlink(missing_ok=True)
        return existed
