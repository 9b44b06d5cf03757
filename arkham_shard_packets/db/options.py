"""Execution options the shard sets on its connections (db/session.py) and reads when a
transaction begins (db/engine.py)."""

READ_ONLY = "packets_read_only"
AUTOCOMMIT = "packets_autocommit"  # SQLite: no BEGIN; each statement commits on its own
