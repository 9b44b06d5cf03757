"""The standalone host's stand-in for the Frame's auth: Frame users and their bearer tokens.

Tokens are made and checked as the Frame's fastapi-users JWT strategy does: HS256 with a
shared secret, claims `sub` (the user's id), `aud` = ["fastapi-users:auth"] and `exp`, sent as
`Authorization: Bearer <token>`. A token that is malformed, expired, signed with another secret,
meant for another audience, or names an unknown or inactive user resolves to no user, as
fastapi-users' optional dependency answers. A token without `exp`, which would last forever,
is refused with a 401 of its own, even when everything else about it checks. Users are the
Frame's: id, email, tenant, role.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from ..errors import NotAuthenticated

AUDIENCE = ["fastapi-users:auth"]
ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key at least as long as the hash
DEFAULT_LIFETIME_SECONDS = 3600  # the Frame's JWT_LIFETIME_SECONDS default
REQUIRED_CLAIMS = ["exp", "sub", "aud"]
NO_EXPIRY = (
    "the bearer token has no expiry (exp): such a token would never expire, so it is refused; "
    "issue one that expires (arkham-packets token)"
)


USER_IDS = uuid.UUID("5b0e7d1c-7a55-4f4e-9d43-6f1f0c2b8a11")  # namespace of derived ids


class FrameUser(BaseModel):
    """The fields of the Frame's `User` that a shard reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID
    email: str = Field(min_length=3, max_length=320)
    tenant_id: uuid.UUID
    role: Literal["admin", "analyst", "viewer"] = "analyst"
    is_active: bool = True

    @model_validator(mode="before")
    @classmethod
    def _stable_id(cls, data: object) -> object:
        """Without an id, one derived from the email: every process that reads the same users
        file (the server, `arkham-packets token`) must agree on who a token names."""
        if isinstance(data, dict) and data.get("id") is None and isinstance(data.get("email"), str):
            return {**data, "id": uuid.uuid5(USER_IDS, data["email"])}
        return data


USERS_FILE = TypeAdapter(list[FrameUser])


class AuthConfigError(ValueError):
    pass


class HostAuth:
    def __init__(
        self,
        secret: str,
        users: Iterable[FrameUser] = (),
        lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS,
    ) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise AuthConfigError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self.lifetime_seconds = lifetime_seconds
        self._users: dict[uuid.UUID, FrameUser] = {}
        for user in users:
            self.add(user)

    @classmethod
    def from_file(
        cls, secret: str, path: Path, lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS
    ) -> HostAuth:
        """Users from a JSON array of {id?, email, tenant_id, role?, is_active?}."""
        try:
            users = USERS_FILE.validate_json(path.read_bytes())
        except OSError as error:
            raise AuthConfigError(f"users file {path}: {error.strerror or error}") from None
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5]
            )
            raise AuthConfigError(f"users file {path}: {problems}") from None
        return cls(secret, users, lifetime_seconds)

    def add(self, user: FrameUser) -> FrameUser:
        if any(known.email == user.email and known.id != user.id for known in self.users):
            raise AuthConfigError(f"two users have the email {user.email}")
        self._users[user.id] = user
        return user

    @property
    def users(self) -> list[FrameUser]:
        return list(self._users.values())

    def by_email(self, email: str) -> FrameUser | None:
        return next((user for user in self._users.values() if user.email == email), None)

    def issue(self, user: FrameUser, lifetime_seconds: int | None = None) -> str:
        lifetime = self.lifetime_seconds if lifetime_seconds is None else lifetime_seconds
        claims = {"sub": str(user.id), "aud": AUDIENCE, "exp": int(time.time()) + lifetime}
        import jwt  # PyJWT loads cryptography when it is installed: only a host with users pays

        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    async def user_for_token(self, token: str) -> FrameUser | None:
        """The active user a token names, else None; raises NotAuthenticated for a token that
        checks but has no expiry."""
        import jwt

        try:
            claims = jwt.decode(
                token,
                self._secret,
                audience=AUDIENCE,
                algorithms=[ALGORITHM],
                options={"require": REQUIRED_CLAIMS},
            )
            user = self._users.get(uuid.UUID(str(claims.get("sub"))))
        except jwt.MissingRequiredClaimError as error:
            if error.claim == "exp":
                raise NotAuthenticated(NO_EXPIRY) from None
            return None
        except (jwt.PyJWTError, ValueError):
            return None
        return user if user is not None and user.is_active else None
