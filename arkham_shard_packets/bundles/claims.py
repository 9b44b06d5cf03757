"""What a bundle says of its packet's making, which nothing in it can prove: who created it and
when, its version and finalize time, and who added its items. An import keeps this account as
a claim (in its answer, its version's summary and its custody entry); the packet it makes here
names the importer as the one who created it and added its items."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .format.document import BundleDocument

SHOWN_ACCOUNTS = 20  # of the accounts the bundle says added its items, most items first


def claims(document: BundleDocument) -> dict[str, Any]:
    packet = document.packet
    adders = Counter(item.added_by for item in document.contents)
    ranked = sorted(adders.items(), key=lambda pair: (-pair[1], pair[0]))
    return {
        "created_by": packet.created_by,
        "created_at": packet.created_at,
        "finalized_at": packet.finalized_at,
        "version": packet.version,
        "added_by": [account for account, _ in ranked[:SHOWN_ACCOUNTS]],
        "added_by_accounts": len(adders),
    }


def claims_text(document: BundleDocument) -> str:
    packet = document.packet
    finalized = "" if packet.finalized_at is None else f", finalized at {packet.finalized_at}"
    return (
        f"as the bundle claims (not verified): created by {packet.created_by} at "
        f"{packet.created_at}{finalized}, version {packet.version}"
    )
