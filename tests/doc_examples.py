"""The fenced examples of README.md, production.md and docs/*.md, and the shell script that
runs one document's examples in order.

A fence's info string says what it is. Shell (`bash`, `sh`, `shell`) and `python` blocks
carry a mark after the language:

- `example`: runs, in order with the document's other examples, in one bash session (so
  variables carry from block to block); `example sqlite` / `example postgresql` runs only
  when the suite runs on that database; `example file=NAME` is written to NAME (the text
  tells the reader to save it) instead of being run.
- `not-run: <reason>`: shown, never run, and the reason is required.

Every other fence names its language (`json`, `text`, ...) and is not an example.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_LANGUAGES = {"bash", "sh", "shell", "python"}
FENCE = re.compile(r"^( *)(```+|~~~+)(.*)$")  # indented too, as inside a list item


def documents() -> list[Path]:
    return [ROOT / "README.md", ROOT / "production.md", *sorted((ROOT / "docs").glob("*.md"))]


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT))


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    info: str
    body: str

    @property
    def language(self) -> str:
        return self.info.split(" ", 1)[0] if self.info else ""

    @property
    def mark(self) -> list[str]:
        return self.info.split()[1:]

    @property
    def runs(self) -> bool:
        return bool(self.mark) and self.mark[0] == "example"

    @property
    def database(self) -> str | None:
        kinds = {"sqlite", "postgresql"} & set(self.mark[1:])
        return kinds.pop() if kinds else None

    @property
    def file_name(self) -> str | None:
        for word in self.mark[1:]:
            if word.startswith("file="):
                return word.removeprefix("file=")
        return None

    @property
    def where(self) -> str:
        return f"{shown(self.path)}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    opening: tuple[int, str, str, int] | None = None  # line, fence, info, indentation
    body: list[str] = []
    for number, line in enumerate(lines, start=1):
        match = FENCE.match(line)
        if opening is None:
            if match:
                opening = (number, match.group(2), match.group(3).strip(), len(match.group(1)))
                body = []
        elif match and match.group(2).startswith(opening[1]) and not match.group(3).strip():
            found.append(Block(path, opening[0], opening[2], "\n".join(body) + "\n"))
            opening = None
        else:
            indent = len(line) - len(line.lstrip(" "))
            body.append(line[min(indent, opening[3]) :])
    assert opening is None, f"{shown(path)}:{opening[0]}: a fence that is never closed"
    return found


def problems_of(block: Block) -> list[str]:
    """What is wrong with a block's marking, if anything."""
    if not block.language:
        return [f"{block.where}: a fence without a language (`text`, `json`, `bash`, ...)"]
    if block.language not in EXAMPLE_LANGUAGES:
        return []
    mark = block.mark
    if not mark:
        return [
            f"{block.where}: a {block.language} block that is neither `example` nor "
            "`not-run: <reason>`"
        ]
    if mark[0] == "example":
        unknown = [
            w for w in mark[1:] if w not in ("sqlite", "postgresql") and not w.startswith("file=")
        ]
        return [f"{block.where}: unknown words after `example`: {unknown}"] if unknown else []
    if mark[0] == "not-run:":
        return [] if len(mark) > 1 else [f"{block.where}: `not-run:` without a reason"]
    return [f"{block.where}: `{' '.join(mark)}` is not `example` or `not-run: <reason>`"]


# Shown by each block before it runs; curl fails on an HTTP error (an example that shows one
# on purpose prints the status with -w and so is left alone).
PRELUDE = """\
set -euo pipefail
curl() {
  case " $* " in
    *" -w "*|*" --write-out "*) command curl "$@" ;;
    *) command curl --fail-with-body "$@" ;;
  esac
}
"""


def script_of(blocks: list[Block], database: str, address: str, database_url: str) -> str:
    """One bash script: the document's runnable examples, in order, with the documented
    address (127.0.0.1:8100) replaced by the test host's."""
    parts = [PRELUDE]
    for block in blocks:
        if not block.runs or block.database not in (None, database):
            continue
        body = block.body.replace("127.0.0.1:8100", address)
        parts.append(f"printf '\\n--- %s\\n' {shlex.quote(block.where)}")
        if block.database == "postgresql":
            parts.append(f"export ARKHAM_PACKETS_DATABASE_URL={shlex.quote(database_url)}")
        if block.file_name is not None:
            parts.append(
                f"cat > {shlex.quote(block.file_name)} <<'EXAMPLE_FILE'\n{body}EXAMPLE_FILE"
            )
        elif block.language == "python":
            parts.append(f"python3 - <<'EXAMPLE_PYTHON'\n{body}EXAMPLE_PYTHON")
        else:
            parts.append(body)
        if block.database == "postgresql":
            parts.append("unset ARKHAM_PACKETS_DATABASE_URL")
    return "\n".join(parts) + "\n"
