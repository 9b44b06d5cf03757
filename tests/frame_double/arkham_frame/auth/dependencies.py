"""A double of the Frame's `arkham_frame.auth.dependencies`, as far as the shard meets it.

The real one builds `current_optional_user` with fastapi-users, `current_user(active=True,
optional=True)`, from a session, a user database and a user manager (each a dependency, an
async generator) and a bearer transport with a JWT strategy: the active user a valid token
names, else None (an invalid or expired token included; never a 401 of its own). The shard
calls those pieces itself to keep users by token (frame/frame_tokens.py), so the double offers
them too, with the same names and shapes.

Its users and secret come from FRAME_DOUBLE_USERS (a users file, read again on every
resolution, as the Frame fetches the user from its database) and FRAME_DOUBLE_SECRET; each
resolution appends a line to FRAME_DOUBLE_RESOLUTIONS when that is set, for a test to count.
"""

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from arkham_shard_packets.host.auth import HostAuth

_secret = os.environ["FRAME_DOUBLE_SECRET"]
_users_file = Path(os.environ["FRAME_DOUBLE_USERS"])
_resolutions = os.environ.get("FRAME_DOUBLE_RESOLUTIONS")
_bearer = OAuth2PasswordBearer(tokenUrl="api/auth/jwt/login", auto_error=False)


async def get_async_session() -> AsyncIterator[Path]:
    yield _users_file  # the double's database


async def get_user_db(session: Path = Depends(get_async_session)) -> AsyncIterator[HostAuth]:
    yield HostAuth.from_file(_secret, session)


async def get_user_manager(user_db: HostAuth = Depends(get_user_db)) -> AsyncIterator[HostAuth]:
    yield user_db


class JWTStrategy:
    async def read_token(self, token: str | None, user_manager: HostAuth) -> Any:
        if _resolutions:
            with Path(_resolutions).open("a") as counted:  # noqa: ASYNC230 (a test's tally)
                counted.write("resolved\n")
        return None if token is None else await user_manager.user_for_token(token)


class AuthenticationBackend:
    name = "jwt"

    def get_strategy(self) -> JWTStrategy:
        return JWTStrategy()


auth_backend = AuthenticationBackend()


async def current_optional_user(
    token: Any = Depends(_bearer), user_manager: HostAuth = Depends(get_user_manager)
) -> Any:
    return await auth_backend.get_strategy().read_token(token, user_manager)
