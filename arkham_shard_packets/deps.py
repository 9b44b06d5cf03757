"""What every route depends on: the shard's services and the caller's scope.

Dependencies here and in the other route modules are `async def` though they never await:
FastAPI runs a plain `def` dependency in a worker thread, which costs more than the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Path, Request

from .core.schemas import NO_NUL
from .db.scope import Scope
from .errors import ServiceMissing
from .frame.seam import actor_of

if TYPE_CHECKING:  # the wiring imports every domain, whose routes import this module
    from .wiring import Services

ID_MAX = 200


def _shard(request: Request) -> object:
    shard = getattr(request.app.state, "packets_shard", None)
    if shard is None or getattr(shard, "services", None) is None:
        raise ServiceMissing("the packets shard is not initialized")
    return shard


async def get_services(request: Request) -> Services:
    services: Services = _shard(request).services  # type: ignore[attr-defined]
    return services


async def get_scope(request: Request) -> Scope:
    tenant = _shard(request).get_tenant_id_or_none()  # type: ignore[attr-defined]
    return Scope(tenant_id=None if tenant is None else str(tenant), actor=actor_of(request))


ServicesDep = Annotated["Services", Depends(get_services)]
PacketId = Annotated[str, Path(max_length=ID_MAX, pattern=NO_NUL)]
EntryId = Annotated[str, Path(max_length=ID_MAX, pattern=NO_NUL)]
ShareToken = Annotated[str, Path(max_length=2048, pattern=NO_NUL)]
VersionNumber = Annotated[int, Path(ge=0, le=2**31 - 1)]
ScopeDep = Annotated[Scope, Depends(get_scope)]
