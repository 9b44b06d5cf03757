"""A small stand-in for `arkham_frame.ArkhamShard`, used when the Frame is not installed.

It offers what the Frame's base offers a shard: a no-argument constructor, the manifest
loaded from shard.yaml with `to_dict()`, and the current tenant from a context variable.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from uuid import UUID

current_tenant_id: ContextVar[UUID | str | None] = ContextVar(
    "arkham_packets_tenant_id", default=None
)


class ShardManifest:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self.name: str = data.get("name", "unknown")
        self.version: str = data.get("version", "0.0.0")
        self.description: str = data.get("description", "")
        self.navigation: dict[str, Any] | None = data.get("navigation")

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)


def manifest_paths(module_name: str) -> list[Path]:
    module = sys.modules.get(module_name)
    if module is None or not getattr(module, "__file__", None):
        return []
    module_dir = Path(str(module.__file__)).parent
    return [module_dir.parent / "shard.yaml", module_dir / "shard.yaml"]


class ArkhamShard:
    name: str = "unknown"
    version: str = "0.0.0"
    description: str = ""
    manifest: ShardManifest | None = None

    def __init__(self) -> None:
        self.frame: Any = None
        self.manifest = self._load_manifest()

    def _load_manifest(self) -> ShardManifest:
        import yaml

        for path in manifest_paths(type(self).__module__):
            if path.is_file():
                # libyaml's parser when PyYAML has it: a seventh of the pure-Python one's time
                loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
                return ShardManifest(yaml.load(path.read_text(encoding="utf-8"), Loader=loader))
        return ShardManifest(
            {"name": self.name, "version": self.version, "description": self.description}
        )

    async def initialize(self, frame: Any) -> None:
        raise NotImplementedError

    async def shutdown(self) -> None:
        raise NotImplementedError

    def get_routes(self) -> Any:
        return None

    def get_api_router(self) -> Any:
        return self.get_routes()

    def get_tenant_id_or_none(self) -> UUID | str | None:
        return current_tenant_id.get()
