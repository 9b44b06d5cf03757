"""The seed's vocabulary: enum values and record defaults."""

from __future__ import annotations

from datetime import timedelta

from arkham_shard_packets import models


def test_enum_values() -> None:
    assert [s.value for s in models.PacketStatus] == ["draft", "finalized", "shared", "archived"]
    assert [v.value for v in models.PacketVisibility] == ["private", "team", "public"]
    assert [c.value for c in models.ContentType] == [
        "document",
        "entity",
        "claim",
        "evidence_chain",
        "matrix",
        "timeline",
        "report",
    ]
    assert [p.value for p in models.SharePermission] == ["view", "comment", "edit"]
    assert [f.value for f in models.ExportFormat] == ["zip", "tar.gz", "json"]


def test_record_defaults_are_utc_aware() -> None:
    packet = models.Packet(id="p", name="n")
    assert packet.status is models.PacketStatus.DRAFT
    assert packet.visibility is models.PacketVisibility.PRIVATE
    assert packet.version == 1
    assert packet.created_by == "system"
    assert packet.created_at.utcoffset() == timedelta(0)
    assert packet.metadata == {} and packet.metadata is not models.Packet(id="q", name="m").metadata
    content = models.PacketContent(
        id="c",
        packet_id="p",
        content_type=models.ContentType.CLAIM,
        content_id="x",
        content_title="t",
    )
    assert content.order == 0 and content.data is None
    assert models.PacketStatistics().by_status == {}
    assert models.PacketFilter().status is None
    assert models.PacketImportResult(packet_id="p", import_source="s").merge_mode == "replace"
