"""A standalone, Frame-compatible host: loads shards through their entry points and serves them."""
