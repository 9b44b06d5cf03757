"""Investigation packets for the Arkham Frame."""

from .shard import PacketsShard
from .version import __version__

__all__ = ["PacketsShard", "__version__"]
