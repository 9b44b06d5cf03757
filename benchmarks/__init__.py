"""The packets shard's benchmark suite: `python -m benchmarks --help`."""
