"""Frame users kept briefly by token, so a signed-in caller is resolved (JWT decode and a user
fetch from the Frame's database) once per token and lifetime rather than on every request.

A token is kept under its SHA-256 digest, never as itself. An entry lasts no longer than the
configured lifetime nor the token's own `exp`; a token that resolves to no user, or whose
resolution raises, is never kept; the oldest-used entries go first once the cache is full. A
lifetime of 0 resolves every request. So a deactivated user, or one whose role changed, can
act as before for at most the lifetime (docs/users.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from ..models import utcnow

DEFAULT_SECONDS = 30.0
DEFAULT_SIZE = 1024

Resolve = Callable[[str], Awaitable[Any]]


def token_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT, unverified (the resolution has checked the token), else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    return float(exp)


class UserCache:
    def __init__(self, seconds: float = DEFAULT_SECONDS, size: int = DEFAULT_SIZE) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: OrderedDict[bytes, tuple[float, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def user(self, token: str, resolve: Resolve) -> Any:
        """The user `token` names: a kept one while its entry lasts, else `resolve(token)`."""
        if self.seconds <= 0:
            return await resolve(token)
        key = hashlib.sha256(token.encode()).digest()
        now = utcnow().timestamp()
        kept = self._entries.get(key)
        if kept is not None:
            until, user = kept
            if now < until:
                self._entries.move_to_end(key)
                return user
            del self._entries[key]
        user = await resolve(token)
        if user is not None:
            self._keep(key, user, token, now)
        return user

    def _keep(self, key: bytes, user: Any, token: str, now: float) -> None:
        until = now + self.seconds
        expiry = token_expiry(token)
        if expiry is not None:
            until = min(until, expiry)
        if until <= now:
            return
        self._entries[key] = (until, user)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
