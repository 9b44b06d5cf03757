"""shard.yaml against the Frame's production manifest rules, and its place in the wheel."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from arkham_shard_packets import __version__

ROOT = Path(__file__).resolve().parent.parent
MANIFEST: dict[str, Any] = yaml.safe_load((ROOT / "shard.yaml").read_text())
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
CONSTRAINT = re.compile(r"^(?:(?:>=|<=|==|!=|~=|>|<|\^|~)?\d+\.\d+\.\d+\s*,?\s*)+$")
CATEGORIES = {"System", "Data", "Search", "Analysis", "Visualize", "Export"}
RESERVED = ("frame.", "worker.", "scheduler.", "notification.")
SEED_EVENTS = [
    "packets.packet.created",
    "packets.packet.updated",
    "packets.packet.finalized",
    "packets.packet.shared",
    "packets.packet.exported",
    "packets.packet.imported",
    "packets.content.added",
    "packets.content.removed",
    "packets.version.created",
]
# Events beyond the seed's, each named as the Frame's rules say.
ADDED_EVENTS = ["packets.comment.added"]


def test_required_fields() -> None:
    assert re.fullmatch(r"[a-z][a-z0-9-]*", MANIFEST["name"])
    assert MANIFEST["name"] == "packets"
    assert SEMVER.match(MANIFEST["version"])
    assert MANIFEST["version"] == __version__
    assert MANIFEST["description"]
    module, _, cls = MANIFEST["entry_point"].partition(":")
    assert getattr(importlib.import_module(module), cls).__name__ == "PacketsShard"
    assert MANIFEST["api_prefix"] == "/api/packets"
    assert MANIFEST["api_prefix"].startswith("/api/")
    assert CONSTRAINT.match(MANIFEST["requires_frame"])
    assert MANIFEST["requires_frame"] == ">=0.1.0"


def test_navigation() -> None:
    nav = MANIFEST["navigation"]
    assert nav["category"] in CATEGORIES
    assert nav["category"] == "Export"
    assert 0 <= nav["order"] <= 99
    assert nav["order"] == 62
    assert nav["icon"] == "Package"
    assert nav["label"] == "Packets"
    assert nav["route"] == "/packets"
    assert nav["badge_endpoint"] == "/api/packets/count"
    assert nav["badge_type"] == "count"
    assert [s["id"] for s in nav["sub_routes"]] == ["all", "draft", "finalized", "shared"]
    for sub in nav["sub_routes"]:
        assert sub["route"].startswith("/")


def test_dependencies_events_state_ui() -> None:
    deps = MANIFEST["dependencies"]
    assert deps["services"] == ["database", "events"]
    assert deps["optional"] == ["storage"]
    assert deps["shards"] == []
    assert len(MANIFEST["capabilities"]) == 5
    publishes = MANIFEST["events"]["publishes"]
    assert publishes == SEED_EVENTS + ADDED_EVENTS
    for name in publishes:
        assert re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z_]+\.[a-z_]+", name)
        assert name.split(".")[0] == MANIFEST["name"]
        assert not name.startswith(RESERVED)
    assert MANIFEST["events"]["subscribes"] == []
    assert MANIFEST["state"]["url_params"] == ["packetId", "view", "filter"]
    assert MANIFEST["state"]["local_keys"] == ["show_contents", "sort_order", "view_mode"]
    assert MANIFEST["ui"]["has_custom_ui"] is True


async def test_badge_endpoints_answer_count(client: httpx.AsyncClient) -> None:
    nav = MANIFEST["navigation"]
    badges = [nav["badge_endpoint"]] + [
        s["badge_endpoint"] for s in nav["sub_routes"] if s.get("badge_endpoint")
    ]
    for endpoint in badges:
        response = await client.get(endpoint)
        assert response.status_code == 200
        assert response.json() == {"count": 0}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_wheel_ships_the_manifest(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = wheels.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("arkham_shard_packets/shard.yaml")
        names = archive.namelist()
        metadata = archive.read(f"arkham_shard_packets-{MANIFEST['version']}.dist-info/METADATA")
        archive.extractall(tmp_path / "site")
    assert shipped == (ROOT / "shard.yaml").read_bytes()
    # Nothing but the package itself lands in site-packages: no top-level benchmarks or tests.
    assert {name.split("/")[0] for name in names} == {
        "arkham_shard_packets",
        f"arkham_shard_packets-{MANIFEST['version']}.dist-info",
    }
    assert f"\nVersion: {MANIFEST['version']}\n" in metadata.decode()
    probe = (
        "import json, arkham_shard_packets as p; from arkham_shard_packets import PacketsShard;"
        "from arkham_shard_packets.sharing import page;"
        "print(json.dumps([p.__file__, PacketsShard().manifest.to_dict(), p.__version__,"
        " PacketsShard.version, page.SHARED_PACKET.filename, page.error_page(404, 'gone')]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    location, manifest, version, shard_version, template, shown = json.loads(out)
    assert location.startswith(str(tmp_path / "site"))
    # The share page's templates are package data: the wheel ships them, and they are read there.
    assert template.startswith(str(tmp_path / "site"))
    assert "<h1>Link not found</h1>" in shown
    assert manifest["navigation"]["badge_endpoint"] == "/api/packets/count"
    assert version == shard_version == MANIFEST["version"]


def test_the_version_is_written_once() -> None:
    """In shard.yaml; the build and the package read it from there (and the metadata)."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    written = re.compile(rf"(?<![\d.]){re.escape(MANIFEST['version'])}(?![\d.])")
    sources = [ROOT / "pyproject.toml", *sorted((ROOT / "arkham_shard_packets").rglob("*.py"))]
    assert [str(path) for path in sources if written.search(path.read_text())] == []
