"""Release habits: CHANGELOG.md has a section for every release, newest first, the top one
is the version shard.yaml gives, and every migration ships in exactly one release, alone (the
releases before the rule, up to 0.1.0, excepted)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

TOP = Path(__file__).resolve().parent.parent
MIGRATIONS = TOP / "arkham_shard_packets" / "db" / "migrations" / "versions"
BEFORE_THE_RULE = (0, 1, 0)

SECTION = re.compile(r"^## (\d+)\.(\d+)\.(\d+) \((unreleased|\d{4}-\d{2}-\d{2})\)$", re.M)
MIGRATIONS_LINE = re.compile(r"^Migrations: ((?:.|\n(?!\n))+)", re.M)


def releases(text: str) -> list[tuple[tuple[int, int, int], list[str]]]:
    """Each section's version and the migrations it names, in the file's order."""
    heads = list(SECTION.finditer(text))
    found = []
    for head, after in zip(heads, [*heads[1:], None], strict=True):
        body = text[head.end() : after.start() if after else len(text)]
        named = MIGRATIONS_LINE.search(body)
        migrations = re.findall(r"\d{4}_\w+", named.group(1)) if named else []
        found.append(((int(head[1]), int(head[2]), int(head[3])), migrations))
    return found


def test_the_manifest_version_is_the_newest_release() -> None:
    manifest = yaml.safe_load((TOP / "shard.yaml").read_text(encoding="utf-8"))
    found = releases((TOP / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert found, "CHANGELOG.md has no release section"
    versions = [version for version, _ in found]
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions)
    assert ".".join(map(str, versions[0])) == manifest["version"]


def test_every_migration_ships_in_one_release_of_its_own() -> None:
    found = releases((TOP / "CHANGELOG.md").read_text(encoding="utf-8"))
    named = [migration for _, migrations in found for migration in migrations]
    on_disk = sorted(path.stem for path in MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert sorted(named) == on_disk, "every migration is named once in CHANGELOG.md"
    crowded = [
        version
        for version, migrations in found
        if version > BEFORE_THE_RULE and len(migrations) > 1
    ]
    assert crowded == [], f"a release with more than one migration: bump the version {crowded}"


def test_the_rule_is_read() -> None:
    """The parser sees sections and multi-line migration lists, and the checks can fail."""
    text = (
        "## 0.3.0 (unreleased)\n\nMigrations: 0013_b, 0014_c\n\n"
        "## 0.2.0 (2026-12-07)\n\n- x\n\nMigrations: 0012_a,\n0011_z\n\n## 0.1.0 (2026-12-06)\n"
    )
    assert releases(text) == [
        ((0, 3, 0), ["0013_b", "0014_c"]),
        ((0, 2, 0), ["0012_a", "0011_z"]),
        ((0, 1, 0), []),
    ]
