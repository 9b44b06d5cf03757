"""Who is calling: the Frame user behind the request's bearer token becomes the shard's actor
and tenant, and the user's role decides whether the request may change anything.

Inside the Frame the user comes from the Frame's own dependency,
`arkham_frame.auth.current_optional_user` (fastapi-users: the active user of a valid token,
else None). Without the Frame's auth, a host may offer a stand-in as `frame.auth`, with
`async user_for_token(token)` (the standalone host does when configured: host/auth.py). With
neither, every caller is anonymous, as before.

Either way a resolved user is kept briefly under its token's digest (frame/user_cache.py), so
the Frame's resolution is called by the shard itself (frame/frame_tokens.py) only on a miss
rather than by FastAPI on every request. Only if the Frame's auth offers no such pieces is its
dependency taken as it is, on every request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import TypeAdapter, ValidationError

from ..db.scope import Scope
from ..errors import Forbidden, NotAuthenticated
from .frame_tokens import frame_token_resolver
from .seam import optional_service
from .user_cache import UserCache

logger = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN_ROLE = "admin"
CHANGING_ROLES = frozenset({ADMIN_ROLE, "analyst"})
REQUIRE_USER_KEY = "packets.require_user"  # in the Frame's config service
SYSTEM_ACTOR = "system"


def _frame_user_dependency() -> Callable[..., Any] | None:
    try:
        from arkham_frame.auth import current_optional_user
    except ImportError as error:
        if error.name != "arkham_frame":
            logger.warning("packets: the Frame's auth can't be imported (%s)", error)
        return None
    return current_optional_user  # type: ignore[no-any-return]


FRAME_USER = _frame_user_dependency()
FRAME_RESOLVE = frame_token_resolver() if FRAME_USER is not None else None
# The Frame's dependency runs on every request only when the shard can't resolve a token itself.
FRAME_USER_EACH_REQUEST = FRAME_USER if FRAME_RESOLVE is None else None


async def _no_frame_user() -> None:
    return None


FrameUserDep = Annotated[Any, Depends(FRAME_USER_EACH_REQUEST or _no_frame_user)]


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, parsed as the Frame's transport does."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" and token else None


def actor_of(request: Request) -> str:
    """The authenticated user's id as the Frame's auth puts it on `request.state.user`."""
    user = getattr(request.state, "user", None)
    user_id = user.get("id") if isinstance(user, dict) else getattr(user, "id", None)
    return str(user_id) if user_id else SYSTEM_ACTOR


@dataclass(frozen=True)
class FrameCaller:
    user_id: str
    email: str | None
    tenant_id: str | None
    role: str

    @classmethod
    def of(cls, user: Any) -> FrameCaller:
        role = getattr(user, "role", None)
        email = getattr(user, "email", None)
        tenant = getattr(user, "tenant_id", None)
        return cls(
            user_id=str(user.id),
            email=None if email is None else str(email),
            tenant_id=None if tenant is None else str(tenant),
            role=str(getattr(role, "value", role) or ""),
        )

    def check_may(self, method: str) -> None:
        if method in READ_METHODS or self.role in CHANGING_ROLES:
            return
        raise Forbidden(
            f"{self.email or self.user_id} has the role '{self.role}', which may read packets "
            "but not change them; changes need the analyst or admin role"
        )

    def check_admin(self) -> None:
        if self.role != ADMIN_ROLE:
            raise Forbidden(
                f"{self.email or self.user_id} has the role '{self.role}'; only an admin may "
                "do this"
            )

    def scope(self, shared: bool) -> Scope:
        return Scope(
            tenant_id=self.tenant_id,
            actor=self.user_id,
            actor_email=self.email,
            shared=shared,
            admin=self.role == ADMIN_ROLE,
        )


@dataclass(frozen=True)
class CallerRules:
    """How the shard admits callers; fixed when it initializes."""

    host_auth: Any = None  # a host's stand-in, used only without the Frame's auth
    require_user: bool = False
    users: UserCache = field(default_factory=UserCache)

    @property
    def resolves_users(self) -> bool:
        return FRAME_USER is not None or self.host_auth is not None

    @property
    def shares_tenantless(self) -> bool:
        """While anonymous callers are let in, the packets of no tenant are open to anyone, so
        a caller with a tenant sees and works on them too, beside its tenant's own."""
        return not self.require_user

    async def scope(self, request: Request, frame_user: Any, frame_tenant: Any) -> Scope:
        """The scope a request acts in: its user's tenant and id, or, anonymous, the Frame's
        tenant (if it set one) and `system`."""
        user = await self._user(request, frame_user)
        if user is not None:
            caller = FrameCaller.of(user)
            caller.check_may(request.method)
            return caller.scope(self.shares_tenantless)
        self._check_anonymous(request)
        tenant = None if frame_tenant is None else str(frame_tenant)
        return Scope(tenant, actor_of(request), shared=self.shares_tenantless)

    async def admin_scope(self, request: Request, frame_user: Any) -> Scope:
        """An admin's scope, for what only an admin may do; anyone else is 401 or 403."""
        user = await self._user(request, frame_user)
        if user is None:
            self._check_anonymous(request)
            raise NotAuthenticated(
                "only a signed-in Frame admin may do this: send Authorization: Bearer <token>"
            )
        caller = FrameCaller.of(user)
        caller.check_admin()
        return caller.scope(self.shares_tenantless)

    def _check_anonymous(self, request: Request) -> None:
        if self.resolves_users and bearer_token(request) is not None:
            raise NotAuthenticated(
                "the bearer token is invalid or expired, or names no active Frame user"
            )
        if self.require_user:
            raise NotAuthenticated(
                "packets needs a signed-in Frame user here: send Authorization: Bearer <token> "
                "(share links need none)"
            )

    async def _user(self, request: Request, frame_user: Any) -> Any:
        if FRAME_USER_EACH_REQUEST is not None:
            return frame_user
        if FRAME_RESOLVE is not None:
            resolve = FRAME_RESOLVE
        elif self.host_auth is not None:
            resolve = self.host_auth.user_for_token
        else:
            return None
        token = bearer_token(request)
        return None if token is None else await self.users.user(token, resolve)


def caller_rules(
    frame: Any, require_user: bool | None, users: UserCache | None = None
) -> CallerRules:
    """`require_user` from the shard's settings wins; unset, the Frame's config decides."""
    if require_user is None:
        require_user = _frame_flag(frame, REQUIRE_USER_KEY)
    stand_in = getattr(frame, "auth", None)
    host_auth = stand_in if callable(getattr(stand_in, "user_for_token", None)) else None
    rules = CallerRules(host_auth, require_user, UserCache() if users is None else users)
    if rules.require_user and not rules.resolves_users:
        raise RuntimeError(
            "ARKHAM_PACKETS_REQUIRE_USER is on, but nothing here resolves Frame users (neither "
            "arkham_frame.auth nor a host's stand-in): no request could ever be let in"
        )
    return rules


def _frame_flag(frame: Any, key: str) -> bool:
    getter = getattr(optional_service(frame, "config"), "get", None)
    value = getter(key) if callable(getter) else None
    if value is None:
        return False
    try:
        return TypeAdapter(bool).validate_python(value)
    except ValidationError:
        raise ValueError(f"the Frame's config {key} is {value!r}, not true or false") from None
