"""Investigation packets for the Arkham Frame."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .shard import PacketsShard

__all__ = ["PacketsShard", "__version__"]


def __getattr__(name: str) -> Any:
    """PacketsShard (the web app's routes and services) is imported when first asked for, so
    the command line's `verify` and `--help` start without it."""
    if name == "PacketsShard":
        from .shard import PacketsShard

        return PacketsShard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
