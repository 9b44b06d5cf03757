"""What the interactive docs show as an answer. Every response body derives from `Answer`: each
of its properties that has no example of its own takes the one its name has across the API,
so `/docs` and `/redoc` show answers as the API gives them (one worked case: the README's
Harbor leak, finalized, shared and exported) instead of "string" and `additionalProp1`. A
field's own `examples` wins; a name's example is taken only where its JSON type fits."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

PACKET_ID = "0a344501-c5fc-4e6a-bee4-e77253c99315"
ITEM_ID = "bf288293-9966-4442-96dc-6eca6ffa5804"
SHARE_ID = "03299a4a-95e0-49a9-a0b8-2fbf1083e232"
EXPORT_ID = "a90a4fc6-dada-4a9f-ac13-e1d55b4b76ea"
TENANT_ID = "7c0f3a0e-0000-4000-8000-00000000000a"
AT = "2026-03-01T09:30:12.341547+00:00"
CHECKSUM = "72eeae28e5479f48bb2c00917ea9f4a93a3eb7b5acdb85dfb007dd4b6c944982"
FILE_SHA256 = "7248bdf6f18f1cb66331a2615074cf5433a8ca3640602d5edc39067827ad4797"
CUSTODY_HEAD = "d8134df9c0b619df12685c8bc0cf225714c0c3a08db55d47e16606a7023c5201"
FINGERPRINT = "sha256:b7993cd47cafb87d345895fc3fc399cb0dd68a71b070bf7a1a9bdd85ea306953"
TOKEN = "4bbJmnLwiFq9fZpkaNZJStZCydJe3OzZ3Ar_7uRhRWc"
ACTOR = "system"  # who acts on a standalone host without users; a Frame user's id otherwise
FINALIZED_PAYLOAD = {"checksum": CHECKSUM, "packet_id": PACKET_ID, "version": 2}
CUSTODY_ENTRY = {
    "seq": 1,
    "event": "created",
    "actor": ACTOR,
    "at": AT,
    "packet_id": PACKET_ID,
    "details": {"name": "Harbor leak", "version": 1},
    "prev": None,
}

# A response property's example, by its name.
BY_NAME: dict[str, Any] = {
    "id": PACKET_ID,
    "packet_id": PACKET_ID,
    "share_id": SHARE_ID,
    "export_id": EXPORT_ID,
    "tenant_id": TENANT_ID,
    "name": "Harbor leak",
    "description": "Shipping records from the port authority",
    "metadata": {"case": "HL-2024-07"},
    "content_id": "doc-17",
    "content_title": "Cargo manifest",
    "content_type": "document",
    "data": {"pages": 2, "source": "port authority"},
    "media_type": "text/plain",
    "sha256": FILE_SHA256,
    "content_entry_id": ITEM_ID,
    "item_ids": [ITEM_ID],  # a link limited to items; null for a whole-packet link
    "items_version": 2,
    "checksum": CHECKSUM,
    "computed": CHECKSUM,
    "snapshot_computed": CHECKSUM,
    "custody_head": CUSTODY_HEAD,
    "head": CUSTODY_HEAD,
    "snapshot_path": "sha256:cb25ee291cb1860ddf21b8e7d842c328feb4f9e274273b77712b796274bc6809",
    "snapshot": {
        "format": "arkham-packet-snapshot/1",
        "packet": {"id": PACKET_ID, "name": "Harbor leak", "status": "draft"},
        "contents": [],
    },
    "changes_summary": "finalized",
    "field": "description",
    "before": "Shipping records",
    "after": "Shipping records from the port authority",
    "created_by": ACTOR,
    "added_by": ACTOR,
    "shared_by": ACTOR,
    "imported_by": ACTOR,
    "attested_by": ACTOR,
    "moved_by": ACTOR,
    "shared_with": "counsel@example.org",
    "access_token": TOKEN,
    "share_url": f"/api/packets/shared/{TOKEN}/view",
    "author": "Rita (legal)",
    "body": "Page 2 is missing its stamp.",
    "client_address": "203.0.113.7",
    "file_path": f"exports/packet-{PACKET_ID}-v2-{EXPORT_ID}.zip",
    "download_url": f"/api/packets/{PACKET_ID}/exports/{EXPORT_ID}",
    "import_source": f"upload:packet-{PACKET_ID}-v2.zip",
    "fingerprint": FINGERPRINT,
    "key_fingerprint": FINGERPRINT,
    "signed_by": FINGERPRINT,
    "covered_by": FINGERPRINT,
    "public_key": "WrkBI33VUvw4rdzpEain55Wb2+IFQYrbG9C4WPCpWgA=",
    "algorithm": "ed25519",
    "event_type": "packets.packet.finalized",
    "payload": FINALIZED_PAYLOAD,
    "source": "packets",
    "entries": [CUSTODY_ENTRY],
    "errors": [],
    "warnings": [],
    "problems": [],
    "message": "finalize: 2 done, 1 failed",
    "by_status": {"draft": 3, "finalized": 1, "shared": 1, "archived": 0},
    "by_visibility": {"private": 4, "team": 1},
    "by_content_type": {"document": 12, "entity": 4, "claim": 2},
    "status": "healthy",
    "shard": "packets",
    "database": "postgresql",
    "backend": "local",
    "detail": f"packet {PACKET_ID} not found",
}
for _moment in (
    "created_at",
    "updated_at",
    "added_at",
    "shared_at",
    "accessed_at",
    "last_accessed_at",
    "exported_at",
    "imported_at",
    "checked_at",
    "finalized_at",
    "attested_at",
    "revoked_at",
    "timestamp",
):
    BY_NAME[_moment] = AT
BY_NAME["expires_at"] = "2026-03-31T18:00:00.000000+00:00"

JSON_TYPES = {str: "string", int: "integer", bool: "boolean", dict: "object", list: "array"}


def json_types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a property's schema admits; none when it names a model or an enum."""
    if "$ref" in schema or "enum" in schema or "const" in schema:
        return set()
    if "anyOf" in schema:
        return set().union(*(json_types(option) for option in schema["anyOf"]))
    kind = schema.get("type")
    if kind is None:
        return {"any"} if not schema else set()
    return {kind} if isinstance(kind, str) else set(kind)


def fits(value: Any, schema: dict[str, Any]) -> bool:
    types = json_types(schema)
    return "any" in types or JSON_TYPES.get(type(value)) in types


def with_examples(schema: dict[str, Any]) -> None:
    for name, field in schema.get("properties", {}).items():
        if "examples" in field or name not in BY_NAME:
            continue
        if fits(BY_NAME[name], field):
            field["examples"] = [BY_NAME[name]]


class Answer(BaseModel):
    """A response body: its properties carry examples by name (above)."""

    model_config = ConfigDict(json_schema_extra=with_examples)
