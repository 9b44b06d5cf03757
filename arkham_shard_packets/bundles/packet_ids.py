"""Which id a bundle's packet takes on import, decided from what the importer can see only.

A bundle whose packet id the importer sees is imported into that packet (as its merge mode
says). Otherwise it becomes a packet of the importer's own, so that nothing in the answer
depends on, or tells of, a packet the importer can't see:

  a caller with a tenant: the tenant's id for the bundle, a UUID (v5) made of the tenant and
      the bundle's id, whether or not the bundle's id is taken elsewhere; importing the same
      bundle into the tenant again finds that packet;
  a caller of no tenant: the bundle's id; when it is taken by a packet of a tenant, the id
      made for no tenant in the same way.

An id made so can only be taken by a bundle crafted to carry it; the import then takes a
random one.
"""

from __future__ import annotations

import uuid

from ..db.scope import Scope

NAMESPACE = uuid.UUID("5f0c6a52-8d1e-4c3b-9a57-1f2e6b7c9d40")  # this shard's imports


def own_id(tenant_id: str | None, bundle_id: str) -> str:
    """The id of the packet a bundle becomes in `tenant_id` (None: of no tenant)."""
    return str(uuid.uuid5(NAMESPACE, f"{tenant_id or ''}/{bundle_id.lower()}"))


def ids_to_take(scope: Scope, bundle_id: str) -> list[str]:
    """The ids a new packet from this bundle may take, in order (a random one after them)."""
    own = own_id(scope.tenant_id, bundle_id)
    return [own] if scope.tenant_id is not None else [bundle_id, own]


def ids_to_find(scope: Scope, bundle_id: str) -> list[str]:
    """Where a packet the bundle is imported into may be, in order: the bundle's own id (if
    the caller sees it), then the id an earlier import of it took."""
    return [bundle_id, *(each for each in ids_to_take(scope, bundle_id) if each != bundle_id)]
