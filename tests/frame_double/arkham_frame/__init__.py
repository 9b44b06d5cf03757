"""A double of the real Arkham Frame package, for tests that run the shard in a process where
`arkham_frame` is importable (tests/test_frame_users.py puts this folder on PYTHONPATH). It
offers only what the shard imports from it: the shard base class and `auth`."""

from arkham_shard_packets.frame.fallback import ArkhamShard

__all__ = ["ArkhamShard"]
