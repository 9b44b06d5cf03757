"""Numbers a request may carry are clamped into range, never refused (the Frame's rule for list
parameters), and kept within what the database's integer columns hold."""

from __future__ import annotations

# Larger numbers would overflow the database's INTEGER / BIGINT; nothing real is that large.
INT32_MAX = 2**31 - 1
INT64_SAFE = 2**62


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))
