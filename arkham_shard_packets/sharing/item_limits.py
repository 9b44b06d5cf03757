"""What a share link limited to items shows: those items of the sealed version it was made
on, and nothing else of the packet's items. Its page and JSON list only them, a file of any
other item is 404 through it, and its bundle is their disclosure (bundles/disclosure.py), not
the whole sealed bundle."""

from __future__ import annotations

from ..bundles.disclosure import DisclosureService
from ..bundles.export import ExportService, SealedBundle
from ..db.scope import Scope
from ..errors import NotFound
from ..models import ExportFormat, PacketContent, PacketShare


def shown_items(share: PacketShare, contents: list[PacketContent]) -> list[PacketContent]:
    if share.item_ids is None:
        return contents
    chosen = set(share.item_ids)
    return [item for item in contents if item.id in chosen]


def refuse_unshown(share: PacketShare, entry_id: str) -> None:
    """404 for an item the link does not show, as for one that does not exist."""
    if share.item_ids is not None and entry_id not in share.item_ids:
        raise NotFound(f"this share link shows no content entry {entry_id}")


class LinkBundles:
    """A link's bundle: the sealed version's whole bundle, or the disclosure of its items."""

    def __init__(self, exports: ExportService, disclosures: DisclosureService) -> None:
        self.exports = exports
        self.disclosures = disclosures

    async def made(
        self, scope: Scope, share: PacketShare, export_format: ExportFormat
    ) -> SealedBundle:
        if share.item_ids is None or share.items_version is None:
            return await self.exports.sealed_bundle(scope, share.packet_id, export_format)
        return await self.disclosures.link_bundle(
            scope, share.packet_id, share.item_ids, share.items_version, export_format
        )
