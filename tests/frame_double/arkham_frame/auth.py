"""A double of the Frame's `arkham_frame.auth`, as far as the shard meets it:
`current_optional_user`, which fastapi-users builds with `current_user(active=True,
optional=True)` on a bearer transport and a JWT strategy: the active user a valid token names,
else None (an invalid or expired token included; never a 401 of its own).

Its users and secret come from FRAME_DOUBLE_USERS (a users file) and FRAME_DOUBLE_SECRET.
"""

import os
from pathlib import Path
from typing import Any

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from arkham_shard_packets.host.auth import HostAuth

_users = HostAuth.from_file(
    os.environ["FRAME_DOUBLE_SECRET"], Path(os.environ["FRAME_DOUBLE_USERS"])
)
_bearer = OAuth2PasswordBearer(tokenUrl="api/auth/jwt/login", auto_error=False)


async def current_optional_user(token: Any = Depends(_bearer)) -> Any:
    return None if token is None else await _users.user_for_token(token)
