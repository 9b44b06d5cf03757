"""The benchmark suite runs end to end at its tiny size and writes every figure it promises.

Speed is not asserted here (targets are for `python -m benchmarks`); only that each section
measures what it says, on the same database the suite runs on.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.cli import main
from benchmarks.sections import SECTIONS

from .conftest import POSTGRES_URL


def test_tiny_run_writes_all_sections(tmp_path: Path) -> None:
    output = tmp_path / "figures.json"
    argv = ["--size", "tiny", "--workdir", str(tmp_path / "work")]
    if POSTGRES_URL:
        argv += ["--database-url", POSTGRES_URL]
    assert main([*argv, "--output", str(output)]) == 0
    figures = json.loads(output.read_text())
    assert set(figures["sections"]) == set(SECTIONS)
    assert figures["backend"] == ("postgresql" if POSTGRES_URL else "sqlite")

    growth = figures["sections"]["growth"]["figures"]
    assert growth["packets"] == {"small": 60, "middle": 120, "large": 240}
    for request in growth["requests"].values():
        assert set(request["ratios"]) == {"middle", "large"}
        for size in ("small", "middle", "large"):
            assert request[size]["runs"] == 5
            assert 0 < request[size]["median_ms"] <= request[size]["p99_ms"]

    overhead = figures["sections"]["overhead"]
    writes = ["POST /", "POST /{id}/contents", "PUT /{id}"]
    writes += ["DELETE /{id}/contents/{id}", "POST /{id}/share"]
    # Per transport: GET /{id}, each write against the floor insert, the create against GET;
    # then the live server's CPU per write of each kind against its CPU per floor insert.
    assert len(overhead["targets"]) == 2 * (1 + len(writes) + 1) + len(writes)
    assert all(target["value"] > 0 for target in overhead["targets"])
    assert [t["limit"] for t in overhead["targets"]].count(1.3) == 2 * 6 + 5
    for transport in overhead["figures"]["transports"].values():
        for kind in ("floor insert", *writes):
            assert 0 < transport[kind]["median_ms"] <= transport[kind]["p99_ms"]
        assert transport["POST /{id}/contents"]["runs"] == 3 * transport["POST /"]["runs"]
        assert transport["floor insert"]["runs"] == 7 * transport["POST /"]["runs"]
        assert transport["writes_per_second"] > 0
    cpu = overhead["figures"]["server_cpu_ms_per_request"]
    assert set(cpu) == {"floor insert", *writes}
    assert all(milliseconds > 0 for milliseconds in cpu.values())

    seal = figures["sections"]["seal"]
    assert seal["figures"]["items"] == 200
    runs = {"finalize": 3, "verify": 6, "disclose": 3}
    for operation, count in runs.items():
        timing = seal["figures"]["operations"][operation]
        assert timing["runs"] == count
        assert 0 < timing["median_ms"] <= timing["p99_ms"]
    assert [(t["limit"], t["unit"], t["comparison"]) for t in seal["targets"]] == [
        (0.3, "s", "at_most"),
        (0.3, "s", "at_most"),
        (1.0, "s", "at_most"),
    ]

    bulk = figures["sections"]["bulk"]["figures"]
    assert bulk["payload_bytes"] == 4 * 1024 * 1024
    assert 0 < bulk["incompressible_bytes"] < bulk["payload_bytes"]
    assert set(bulk["operations"]) == {"export zip", "export tar.gz", "import zip"}
    for operation in bulk["operations"].values():
        for side in ("ours", "tools"):
            assert operation[side]["runs"] == 1
            assert operation[side]["median_ms"] > 0
    assert len(figures["sections"]["bulk"]["targets"]) == 5
    items = bulk["items_import"]
    assert items["items"] == 200 and items["import_s"] > 0
    assert items["writes"]["runs"] > 0
    assert items["write_failures"] == []

    memory = figures["sections"]["memory"]
    assert memory["figures"]["mib"] == {"bulk": 4, "small": 1}
    for size in memory["figures"]["measured"].values():
        for operation in ("export", "import", "import json"):
            idle, after = size[operation]["idle"], size[operation]["after"]
            assert 0 < idle["rss_mb"] <= idle["peak_mb"] <= after["peak_mb"]
    assert len(memory["targets"]) == 6

    load = figures["sections"]["load"]["figures"]
    assert load["errors"] == 0, load["error_kinds"]
    assert load["all"]["runs"] == load["reads"]["runs"] + load["writes"]["runs"] > 0
    assert load["throughput_per_s"] > 0
    assert load["commit_to_bus"]["undelivered"] == 0
    assert load["commit_to_bus"]["runs"] >= load["writes"]["runs"]
    assert set(load["processes"]) == {"1", "2"}
    assert all(phase["writes_per_s"] > 0 for phase in load["processes"].values())

    trips = figures["sections"]["trips"]["figures"]["requests"]
    assert trips["GET /{id}"]["request"]["statements"] >= 1
    assert trips["POST /"]["request"]["transactions"] == 1
    assert trips["POST /"]["request"]["statements"] >= 1
    assert trips["POST /{id}/contents"]["request"]["transactions"] == 1
    assert trips["POST /{id}/finalize"]["request"]["commits"] == 1

    hostile = figures["sections"]["hostile"]
    assert hostile["figures"]["alone"]["runs"] > 0
    assert hostile["figures"]["attacked"]["runs"] > 0
    assert hostile["figures"]["failures"] == {}
    assert sum(hostile["figures"]["outcomes"].values()) > 0
    assert len(hostile["targets"]) == 4

    floods = figures["sections"]["floods"]
    flood = floods["figures"]
    assert flood["reads"] == 200 and flood["answers"] == {"HTTP 200": 200}
    assert flood["custody_after"]["link_used"] <= flood["custody_before"]["link_used"] + 3
    assert flood["custody_after"]["bytes"] > flood["custody_before"]["bytes"] > 0
    assert flood["viewer_after"]["runs"] == flood["viewer_before"]["runs"] == 15
    assert flood["verify_exit"] == 0
    assert flood["pace"]["answers"]["HTTP 429"] > 0
    assert flood["lockout"]["wrong_checked"] == 5
    assert sum(flood["lockout"]["answers"].values()) % 60 == 0
    assert len(floods["targets"]) == 5

    transfer = figures["sections"]["transfer"]
    assert transfer["figures"]["mib"] == 16 and transfer["figures"]["runs"] == 1
    for store in ("local", "s3"):
        shown = transfer["figures"][store]
        assert shown["peak_reset"]
        for direction in ("upload", "download"):
            row = shown[direction]
            assert all(row[kind]["runs"] == 1 for kind in ("shard", "route", "store"))
            assert all(row[f"{kind}_mb_s"] > 0 for kind in ("shard", "route", "store"))
            assert row["peak_mb"] >= shown["idle"]["rss_mb"] > 0
    assert len(transfer["targets"]) == 4

    refusals = figures["sections"]["refusals"]
    assert len(refusals["figures"]["bundles"]) == 4
    for bundle in refusals["figures"]["bundles"].values():
        assert bundle["status"] == 422, bundle
    assert len(refusals["targets"]) == 12


def test_a_second_run_starts_afresh(tmp_path: Path) -> None:
    """The benchmark's databases are its own: a run in the same place remakes them."""
    work = tmp_path / "work"
    argv = ["--size", "tiny", "--only", "growth", "--workdir", str(work)]
    argv += ["--small", "20", "--middle", "30", "--large", "40", "--rounds", "2"]
    if POSTGRES_URL:
        argv += ["--database-url", POSTGRES_URL]
    for run in ("first", "second"):
        output = tmp_path / f"{run}.json"
        assert main([*argv, "--output", str(output)]) == 0
        growth = json.loads(output.read_text())["sections"]["growth"]["figures"]
        assert growth["packets"] == {"small": 20, "middle": 30, "large": 40}
