"""Resolving an item's data for export, in order: the data stored with the item; the Frame's
services (documents: record, text and original file through storage; entities: the record);
the owning shard's API called in-process through `frame.app` (never a host and port).
An item nothing resolves is reported, never silently dropped."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.file_names import clean_file_name, clean_media_type
from ..models import ContentType, PacketContent, ResolutionSource
from .seam import optional_service

logger = logging.getLogger(__name__)

# Where an item's owner serves it inside the Frame, for types no Frame service covers.
OWNER_ROUTES: dict[ContentType, str] = {
    ContentType.DOCUMENT: "/api/documents/{id}",
    ContentType.ENTITY: "/api/entities/{id}",
    ContentType.CLAIM: "/api/claims/{id}",
    ContentType.EVIDENCE_CHAIN: "/api/provenance/chains/{id}",
    ContentType.MATRIX: "/api/ach/matrix/{id}",
    ContentType.TIMELINE: "/api/timeline/{id}",
    ContentType.REPORT: "/api/reports/{id}",
}
# The Frame service that knows items of a type.
SERVICES: dict[ContentType, str] = {
    ContentType.DOCUMENT: "documents",
    ContentType.ENTITY: "entities",
}
SHARD_CALL_TIMEOUT = 30.0


@dataclass
class OriginalFile:
    path: Path
    name: str
    media_type: str


@dataclass
class Resolved:
    source: ResolutionSource
    data: Any = None
    error: str | None = None
    original: OriginalFile | None = None
    original_error: str | None = None  # the record resolved, its original file did not
    # Unresolved because nothing here could be asked (no Frame, no service for its type, no
    # shard serving its owner's route), not because something asked failed or said no.
    unowned: bool = False


def serves(app: Any, path: str) -> bool:
    """Whether a route of the app would take `GET path` (rather than answer 404 for want of
    one): an owner's 404 means "no such item", no route at all means "no such owner here"."""
    from starlette.routing import Match

    scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
    return any(route.matches(scope)[0] is not Match.NONE for route in app.router.routes)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class ItemResolver:
    def __init__(self, frame: Any | None) -> None:
        self.frame = frame

    async def resolve(
        self, item: PacketContent, staging: Path, authorization: str | None = None
    ) -> Resolved:
        if item.data is not None:
            return Resolved("stored", item.data)
        if self.frame is None:
            return Resolved("unresolved", error="no stored data and no Frame to ask", unowned=True)
        if not self._can_ask(item):
            return Resolved("unresolved", error="nothing here serves it", unowned=True)
        problems: list[str] = []
        try:
            found = await self._from_services(item, staging)
        except Exception as error:  # a Frame service failing must not fail the export
            found = None
            problems.append(f"the Frame's service failed: {error}")
        if found is not None:
            return found
        try:
            found = await self._from_owner(item, authorization)
        except Exception as error:
            found = None
            problems.append(f"the owning shard's API failed: {error}")
        if found is not None:
            return found
        reason = "; ".join(problems) or "nothing in the Frame knows it"
        return Resolved("unresolved", error=reason)

    def _can_ask(self, item: PacketContent) -> bool:
        """A Frame service for the item's type, or a route of its owning shard, is there."""
        service = SERVICES.get(item.content_type)
        if service is not None and optional_service(self.frame, service) is not None:
            return True
        app = getattr(self.frame, "app", None)
        route = OWNER_ROUTES.get(item.content_type)
        return app is not None and route is not None and serves(app, self._owner_path(item))

    @staticmethod
    def _owner_path(item: PacketContent) -> str:
        route = OWNER_ROUTES[item.content_type]
        return route.format(id=urllib.parse.quote(item.content_id, safe=""))

    async def _from_services(self, item: PacketContent, staging: Path) -> Resolved | None:
        from fastapi.encoders import jsonable_encoder

        if item.content_type is ContentType.DOCUMENT:
            documents = optional_service(self.frame, "documents")
            if documents is None:
                return None
            record = await _maybe_await(documents.get_document(item.content_id))
            if record is None:
                return None
            data: dict[str, Any] = {"record": jsonable_encoder(record)}
            getter = getattr(documents, "get_document_text", None)
            if getter is not None:
                data["text"] = await _maybe_await(getter(item.content_id))
            try:
                original = await self._original(record, staging)
            except Exception as error:  # the record is exported all the same
                # by its kind only: a storage error's text may name the server's paths
                failed = f"the storage service could not hand it over ({type(error).__name__})"
                return Resolved("frame", data, original_error=failed)
            return Resolved("frame", data, original=original)
        if item.content_type is ContentType.ENTITY:
            entities = optional_service(self.frame, "entities")
            if entities is None:
                return None
            try:
                record = await _maybe_await(entities.get_entity(item.content_id))
            except Exception:  # the Frame's get_entity raises when the entity is missing
                return None
            return (
                None if record is None else Resolved("frame", {"record": jsonable_encoder(record)})
            )
        return None

    async def _original(self, record: Any, staging: Path) -> OriginalFile | None:
        """A document's original file, through the storage service (which hands over bytes)."""
        storage = optional_service(self.frame, "storage")
        storage_id = getattr(record, "storage_id", None)
        if storage is None or not storage_id:
            return None
        content, _ = await storage.retrieve(storage_id)
        target = staging / f"original-{uuid.uuid4().hex}"
        await asyncio.to_thread(target.write_bytes, content)
        name = getattr(record, "filename", None) or os.path.basename(str(storage_id))
        return OriginalFile(
            target, clean_file_name(str(name)), clean_media_type(getattr(record, "mime_type", None))
        )

    async def _from_owner(self, item: PacketContent, authorization: str | None) -> Resolved | None:
        app = getattr(self.frame, "app", None)
        if app is None or item.content_type not in OWNER_ROUTES:
            return None
        path = self._owner_path(item)
        if not serves(app, path):
            return None
        # imported here: httpx (with its command line's rich and pygments when installed) is
        # ~10 MB of resident memory that a shard without an owning Frame app never needs
        import httpx

        headers = {"authorization": authorization} if authorization else {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://frame.internal", timeout=SHARD_CALL_TIMEOUT
        ) as client:
            response = await client.get(path, headers=headers)
        if response.status_code != 200:
            raise LookupError(f"GET {path} answered {response.status_code}")
        with contextlib.suppress(ValueError):
            return Resolved("shard", response.json())
        raise LookupError(f"GET {path} did not answer JSON")


SHOWN = 5  # items an unresolved report names before "and N more"


def unowned_report(items: list[PacketContent]) -> str:
    """One line for every item nothing here could be asked about (the standalone host, or a
    Frame without the shards that own them): which, why, and what to do about it."""
    labels = [f"{item.content_type.value} {item.content_id}" for item in items[:SHOWN]]
    if len(items) > SHOWN:
        labels.append(f"and {len(items) - SHOWN} more")
    kinds = sorted({item.content_type for item in items}, key=lambda kind: kind.value)
    owners = ", ".join(OWNER_ROUTES[kind].removesuffix("{id}") for kind in kinds)
    packet = items[0].packet_id
    one = len(items) == 1
    count, their, them = (
        ("1 item was", "its", "it") if one else (f"{len(items)} items were", "their", "them")
    )
    return (
        f"{count} exported without {their} data ({', '.join(labels)}): none was stored with "
        f"{them}, and this server has no Frame service or shard that serves {them} ({owners}). "
        f"packet.json lists {them} as unresolved (titles and files are kept). To carry "
        f"{their} data, send it as `data` when adding an item "
        f"(POST /api/packets/{packet}/contents), or export inside the Arkham Frame, where the "
        f"shards that own {them} run."
    )
