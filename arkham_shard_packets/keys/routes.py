"""GET /keys: the public keys this installation signs seals with. Registered before the
`/{packet_id}` routes."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..deps import ServicesDep, get_scope
from ..routing import PacketsRoute, error_responses
from .schemas import KeyOut, KeysOut

router = APIRouter(route_class=PacketsRoute, tags=["custody"])


# The keys are the installation's, not a tenant's: the scope only asks who calls, as on every
# route but /health and the share links (ARKHAM_PACKETS_REQUIRE_USER).
@router.get(
    "/keys",
    response_model=KeysOut,
    responses=error_responses(503),
    dependencies=[Depends(get_scope)],
    summary="List the installation's signing keys",
)
async def list_keys(services: ServicesDep) -> KeysOut:
    """Every key a seal made here names, oldest first; the active one signs new seals. A key
    and its fingerprint are public: publish the fingerprint so recipients can check seals.
    `public_key` is the base64 of the raw 32-byte Ed25519 key, `fingerprint` `sha256:` and the
    hex SHA-256 of those bytes; `revoked_at` is set for a key revoked by `arkham-packets keys
    revoke` (its seals made after are not trusted). 503 when the key store can't be read."""
    records = await services.keyring.keys()
    return KeysOut(keys=[KeyOut.model_validate(record) for record in records])
