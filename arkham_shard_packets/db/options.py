"""Execution options the shard sets on its connections (db/session.py) and reads when a
transaction begins (db/engine.py)."""

READ_ONLY = "packets_read_only"
