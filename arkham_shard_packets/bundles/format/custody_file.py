"""custody.jsonl: a packet's custody log as a tag file at the bag's root (and under `custody`
in the json format): one entry per line, each line the entry's canonical JSON, whose SHA-256
the next entry names as `prev` (sealing/custody_chain.py).

A carried entry is stored as it came, so it is held to the bounds of every JSON value the
shard stores (core/bounds.py) before anything is written, whatever the caller accepts: a
line that is JSON is read by `read_json`; a line that is not stays a damaged entry (the chain
says so), but must still be text the database can hold."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from ...core.bounds import MAX_BYTES, NotJson, OutOfBounds, json_problem, read_json, text_problem
from ...core.canonical import canonical_json
from ...errors import InvalidBundle

CUSTODY_FILE = "custody.jsonl"
# A log is read whole: bounded so that a hostile one costs tens of MB, not hundreds.
MAX_CUSTODY_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 100_000
SHOWN_REFUSALS = 20


def render_custody(entries: Sequence[str]) -> bytes:
    return "".join(f"{entry}\n" for entry in entries).encode("utf-8")


def _line_problem(line: str) -> str | None:
    if len(line.encode("utf-8")) > MAX_BYTES:
        return f"larger than {MAX_BYTES} bytes"
    try:
        read_json(line)
    except OutOfBounds as error:
        return str(error.problem)
    except NotJson:
        return text_problem(line)
    return None


def _refuse(refused: Iterator[str]) -> None:
    """Raises InvalidBundle naming the first entries refused, if any is."""
    shown = list(islice(refused, SHOWN_REFUSALS))
    if shown:
        raise InvalidBundle(shown)


def parse_custody(data: bytes, problems: list[str]) -> list[str] | None:
    """The entries' texts, one per line, as carried (their checks are the chain's); raises
    InvalidBundle for a line the shard could not store."""
    if len(data) > MAX_CUSTODY_BYTES:
        problems.append(f"{CUSTODY_FILE} is larger than {MAX_CUSTODY_BYTES} bytes")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{CUSTODY_FILE} is not UTF-8")
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_ENTRIES:
        problems.append(f"{CUSTODY_FILE} holds more than {MAX_ENTRIES} entries")
        return None
    _refuse(
        f"{CUSTODY_FILE} line {number}: {problem}"
        for number, line in enumerate(lines, start=1)
        if (problem := _line_problem(line)) is not None
    )
    return lines


def custody_from_json(value: Any, problems: list[str]) -> list[str] | None:
    """The json format's `custody`: a list of entries, each hashed as its canonical JSON;
    raises InvalidBundle for an entry the shard could not store."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        problems.append(f"the bundle's custody is not a list of at most {MAX_ENTRIES} entries")
        return None
    _refuse(
        f"the json bundle: {problem.within('custody', index)}"
        for index, entry in enumerate(value)
        if (problem := json_problem(entry)) is not None
    )
    return [canonical_json(entry) for entry in value]
