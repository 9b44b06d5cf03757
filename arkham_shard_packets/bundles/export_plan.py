"""What an export carries, decided before anything is written: each item resolved (the Frame's
data, or what the packet stores), the files of its payload (an item's record, its attached
file, its original), what goes inline in a json bundle, and packet.json."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.clock import to_text
from ..core.spool import hash_file
from ..core.store import ObjectMissing, Store, blob_key, download
from ..errors import StoredFileBroken
from ..frame.resolver import ItemResolver, Resolved, unowned_report
from ..models import PacketContent
from ..sealing.checksum import RECIPE_VERSION, data_sha256
from .carried import Carried
from .format.document import (
    FORMAT_VERSION,
    PACKET_JSON,
    BundleDocument,
    BundleItem,
    BundlePacket,
    FileRef,
    Resolution,
    file_path,
    item_path,
    render,
)
from .format.writer import InlineItem, PayloadFile
from .state import PacketState


@dataclass
class Plan:
    document: BundleDocument
    payload: list[PayloadFile]
    inline: list[InlineItem]
    errors: list[str]  # what could not be exported
    warnings: list[str]  # exported, but worth knowing
    carried: Carried


def _write_json_file(path: Path, value: Any) -> int:
    data = (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
    path.write_bytes(data)
    return len(data)


async def plan_export(
    state: PacketState,
    staging: Path,
    authorization: str | None,
    carried: Carried,
    resolver: ItemResolver,
    store: Store,
) -> Plan:
    payload: list[PayloadFile] = []
    inline: list[InlineItem] = []
    items: list[BundleItem] = []
    errors: list[str] = []
    warnings: list[str] = []  # an unresolved item's record is exported all the same
    unowned: list[PacketContent] = []
    fetched: dict[str, Path] = {}
    for index, item in enumerate(state.contents, start=1):
        label = f"{item.content_type.value} {item.content_id}"
        resolved = await resolver.resolve(item, staging, authorization)
        resolution = Resolution(source=resolved.source)
        if resolved.original_error is not None:
            errors.append(
                f"{label}: its original file was not exported ({resolved.original_error})"
            )
        if resolved.unowned:
            unowned.append(item)
        elif resolved.source == "unresolved":
            warnings.append(f"{label}: unresolved ({resolved.error})")
        else:
            resolution.path = item_path(index, item.content_type)
            payload.append(await _item_file(resolution.path, item, resolved, staging))
        stored, file_ref = await _stored_file(index, item, store, staging, fetched)
        original, original_ref = await _original_file(index, resolved)
        payload.extend(entry for entry in (stored, original) if entry is not None)
        inline.append(InlineItem(resolved.data, stored, original))
        items.append(_bundle_item(item, file_ref, original_ref, resolution))
    if unowned:
        warnings.append(unowned_report(unowned))
    document = document_of(state, items)
    packet_json = staging / "packet.json"
    size = await asyncio.to_thread(packet_json.write_bytes, render(document))
    payload.append(PayloadFile(PACKET_JSON, packet_json, size, text=True))
    return Plan(document, payload, inline, errors, warnings, carried)


async def _item_file(path: str, item: Any, resolved: Resolved, staging: Path) -> PayloadFile:
    source = staging / f"item-{uuid.uuid4().hex}.json"
    body = {
        "content_type": item.content_type.value,
        "content_id": item.content_id,
        "content_title": item.content_title,
        "source": resolved.source,
        "data": resolved.data,
    }
    size = await asyncio.to_thread(_write_json_file, source, body)
    return PayloadFile(path, source, size, text=True)


async def _stored_file(
    index: int, item: PacketContent, store: Store, staging: Path, fetched: dict[str, Path]
) -> tuple[PayloadFile | None, FileRef | None]:
    """The file attached to the item, where the bundle's writer reads it."""
    if item.file is None:
        return None, None
    path = file_path(index, item.file.name)
    source = await _fetched(store, item.file.sha256, staging, fetched, item.packet_id)
    stored = PayloadFile(path, source, item.file.size, item.file.sha256)
    file_ref = FileRef(
        name=item.file.name,
        media_type=item.file.media_type,
        size=item.file.size,
        sha256=item.file.sha256,
        path=path,
    )
    return stored, file_ref


async def _fetched(
    store: Store, sha256: str, staging: Path, fetched: dict[str, Path], packet_id: str
) -> Path:
    """An attached file in place on this machine's disk, else fetched from the store into the
    scratch folder (once per digest). The writer checks every file's digest as it reads it."""
    key = blob_key(sha256)
    local = store.local_path(key)
    if local is not None:
        return local
    if sha256 not in fetched:
        target = staging / f"file-{sha256}"
        try:
            await download(store, key, target, store.modes)
        except ObjectMissing:
            raise StoredFileBroken(f"a stored file of packet {packet_id} is missing") from None
        fetched[sha256] = target
    return fetched[sha256]


async def _original_file(
    index: int, resolved: Resolved
) -> tuple[PayloadFile | None, FileRef | None]:
    """The item's original file, as the Frame's storage handed it over."""
    if resolved.original is None:
        return None, None
    size, digest = await asyncio.to_thread(hash_file, resolved.original.path)
    path = file_path(index, resolved.original.name, "originals")
    original = PayloadFile(path, resolved.original.path, size, digest)
    original_ref = FileRef(
        name=resolved.original.name,
        media_type=resolved.original.media_type,
        size=size,
        sha256=digest,
        path=path,
    )
    return original, original_ref


def _bundle_item(
    item: PacketContent,
    file_ref: FileRef | None,
    original_ref: FileRef | None,
    resolution: Resolution,
) -> BundleItem:
    return BundleItem(
        content_type=item.content_type,
        content_id=item.content_id,
        content_title=item.content_title,
        order=item.order,
        added_at=to_text(item.added_at),
        added_by=item.added_by,
        data=item.data,
        data_sha256=data_sha256(item.data),
        file=file_ref,
        original_file=original_ref,
        resolution=resolution,
    )


def document_of(state: PacketState, items: list[BundleItem]) -> BundleDocument:
    packet = state.packet
    return BundleDocument(
        format="arkham-packet",
        format_version=FORMAT_VERSION,
        packet=BundlePacket(
            id=packet.id,
            name=packet.name,
            description=packet.description,
            status=packet.status,
            visibility=packet.visibility,
            created_by=packet.created_by,
            created_at=to_text(packet.created_at),
            updated_at=to_text(packet.updated_at),
            finalized_at=None if state.sealed_at is None else to_text(state.sealed_at),
            version=packet.version,
            contents_count=len(items),
            size_bytes=packet.size_bytes,
            checksum=packet.checksum,
            checksum_recipe=RECIPE_VERSION,
            metadata=packet.metadata,
        ),
        contents=items,
    )
