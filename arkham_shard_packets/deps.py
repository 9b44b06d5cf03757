"""What every route depends on: the shard's services and the caller's scope.

Dependencies here and in the other route modules are `async def` though they never await:
FastAPI runs a plain `def` dependency in a worker thread, which costs more than the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Path, Request

from .db.scope import Scope
from .errors import ServiceMissing
from .frame.callers import FrameUserDep
from .records.schemas import NO_NUL

if TYPE_CHECKING:  # the wiring imports every domain, whose routes import this module
    from .wiring import Services

ID_MAX = 200
SHARE_TOKEN_MAX = 2048


def _shard(request: Request) -> object:
    shard = getattr(request.app.state, "packets_shard", None)
    if shard is None or getattr(shard, "services", None) is None:
        raise ServiceMissing("the packets shard is not initialized")
    return shard


async def get_services(request: Request) -> Services:
    services: Services = _shard(request).services  # type: ignore[attr-defined]
    return services


async def get_scope(request: Request, frame_user: FrameUserDep) -> Scope:
    """Who is asking (frame/callers.py): refuses an anonymous or read-only caller (401, 403)
    before the route does anything."""
    shard: Any = _shard(request)
    scope: Scope = await shard.callers.scope(request, frame_user, shard.get_tenant_id_or_none())
    return scope


async def get_admin_scope(request: Request, frame_user: FrameUserDep) -> Scope:
    """A Frame admin's scope: 401 without a user, 403 for a user of another role."""
    shard: Any = _shard(request)
    scope: Scope = await shard.callers.admin_scope(request, frame_user)
    return scope


ServicesDep = Annotated["Services", Depends(get_services)]
PacketId = Annotated[
    str,
    Path(max_length=ID_MAX, pattern=NO_NUL, description="The packet's `id` (a UUID)"),
]
EntryId = Annotated[
    str,
    Path(
        max_length=ID_MAX,
        pattern=NO_NUL,
        description="A content item's `id` in the packet (from its contents), not its `content_id`",
    ),
]
ShareId = Annotated[
    str,
    Path(max_length=ID_MAX, pattern=NO_NUL, description="The share's `id` (never its token)"),
]
ExportId = Annotated[
    str,
    Path(
        max_length=ID_MAX,
        pattern=NO_NUL,
        description="The `export_id` an export answered with (its `download_url` ends with it)",
    ),
]
ShareToken = Annotated[
    str,
    Path(
        max_length=SHARE_TOKEN_MAX,
        pattern=NO_NUL,
        description="The share link's token: its only credential, returned once when the "
        "share was made",
    ),
]
VersionNumber = Annotated[
    int, Path(ge=0, le=2**31 - 1, description="A version number of the packet: 1, 2, 3, …")
]
ScopeDep = Annotated[Scope, Depends(get_scope)]
AdminScopeDep = Annotated[Scope, Depends(get_admin_scope)]
