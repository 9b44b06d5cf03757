"""docs/layout.md, where a newcomer finds a feature by its folder, holds to the package: its
folder table names every folder of the package and no other, its module table every top-level
module and no other, every file or folder it names exists, and it names the whole web layer
that tests/test_architecture.py enforces."""

from __future__ import annotations

import re
from pathlib import Path

from .test_architecture import REACHES_WEB, WEB_LAYER

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "arkham_shard_packets"
PAGE = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
PROSE = re.sub(r"^```.*?^```", "", PAGE, flags=re.M | re.S)  # the page without its drawings
NAMED = re.compile(r"`([^`]+)`")
# a folder (`db/`), or a file with its path (`events/outbox.py`, `tests/test_layout_doc.py`)
PATH = re.compile(r"[\w.-]+(/[\w.-]+)*(/|\.py|\.md)")


def first_cells(header: str) -> set[str]:
    """The names in backticks in the first column of the table whose header row is `header`."""
    lines = PAGE.splitlines()
    assert header in lines, f"docs/layout.md has no table headed {header}"
    start = lines.index(header)
    names: set[str] = set()
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        names.update(NAMED.findall(line.split("|")[1]))
    return names


def package_folders() -> set[str]:
    return {
        path.relative_to(PACKAGE).as_posix() + "/"
        for path in PACKAGE.rglob("*")
        if path.is_dir() and "__pycache__" not in path.parts and any(path.glob("*.py"))
    }


def test_the_folder_table_is_the_package_folders() -> None:
    listed = first_cells("| folder | holds |")
    folders = package_folders()
    assert {"packets/", "bundles/format/", "db/migrations/versions/"} <= folders
    assert sorted(folders - listed) == [], "folders docs/layout.md doesn't list"
    assert sorted(listed - folders) == [], "folders docs/layout.md lists that aren't there"


def test_the_module_table_is_the_top_level_modules() -> None:
    listed = first_cells("| module | holds |")
    modules = {path.name for path in PACKAGE.glob("*.py")}
    assert {"shard.py", "api.py", "models.py"} <= modules
    assert sorted(modules - listed) == [], "top-level modules docs/layout.md doesn't list"
    assert sorted(listed - modules) == [], "modules docs/layout.md lists that aren't there"


def test_every_path_the_page_names_exists() -> None:
    named = {name for name in NAMED.findall(PROSE) if PATH.fullmatch(name)}
    assert {"events/outbox.py", "bundles/format/", "tests/test_architecture.py"} <= named
    gone = [name for name in sorted(named) if not (PACKAGE / name).exists()]
    gone = [name for name in gone if not (ROOT / name).exists()]
    assert gone == []


def test_the_page_names_the_web_layer() -> None:
    """Every module test_architecture.py counts as the web layer, or excuses for reaching it,
    is named on the page as a path (`attachments/multipart.py`, `host/`)."""

    def path_of(module: str) -> str:
        slashed = module.replace(".", "/")
        return f"{slashed}/" if (PACKAGE / slashed).is_dir() else f"{slashed}.py"

    missing = [
        path_of(module)
        for module in sorted(WEB_LAYER | set(REACHES_WEB) - {""})
        if path_of(module) not in PAGE
    ]
    assert missing == []
