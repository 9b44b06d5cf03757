"""The Frame's own resolution of a bearer token, called directly so that a cached user skips
it (frame/user_cache.py): what `arkham_frame.auth.current_optional_user` does, step by step.

fastapi-users builds that dependency from the Frame's session, user database and user manager
(each a FastAPI dependency, an async generator) and its JWT backend's strategy; the answer is
the user the token names if that user is active, else None. If the Frame's auth module does not
offer these pieces, there is no resolver and the shard takes the dependency as it is, uncached.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

logger = logging.getLogger(__name__)

PIECES = ("get_async_session", "get_user_db", "get_user_manager", "auth_backend")


def frame_token_resolver() -> Callable[[str], Awaitable[Any]] | None:
    try:
        from arkham_frame.auth import dependencies
    except ImportError as error:
        if error.name not in {"arkham_frame", "arkham_frame.auth"}:
            logger.warning("packets: the Frame's auth can't be imported (%s)", error)
        return None
    missing = [name for name in PIECES if not hasattr(dependencies, name)]
    if missing or not callable(getattr(dependencies.auth_backend, "get_strategy", None)):
        logger.warning(
            "packets: the Frame's auth lacks %s; its users are resolved on every request",
            ", ".join(missing) or "auth_backend.get_strategy",
        )
        return None

    async def resolve(token: str) -> Any:
        async with AsyncExitStack() as stack:
            session = await stack.enter_async_context(
                asynccontextmanager(dependencies.get_async_session)()
            )
            user_db = await stack.enter_async_context(
                asynccontextmanager(dependencies.get_user_db)(session)
            )
            manager = await stack.enter_async_context(
                asynccontextmanager(dependencies.get_user_manager)(user_db)
            )
            strategy = dependencies.auth_backend.get_strategy()
            user = await strategy.read_token(token, manager)
        return user if user is not None and getattr(user, "is_active", False) else None

    return resolve
