"""What a value may be before it reaches the database: the bounds every input is held to.

Free-form JSON (a packet's `metadata`, an item's `data`, and any value that arrives in a
request body or a bundle) may hold only what the shard can store and render back:
  - nested at most `MAX_DEPTH` objects or arrays deep (deeper values break rendering),
  - at most `MAX_BYTES` of canonical JSON (what is stored and counted in `size_bytes`),
  - finite numbers (NaN, Infinity and 1e999 can't be written as JSON),
  - text, keys included, without lone surrogates (they can't be encoded as UTF-8) and
    without NUL (PostgreSQL text can't hold it).
Dates must be ISO 8601 text that stays within years 1 to 9999 once moved to UTC.

Untrusted JSON text (a request body, a bundle's documents, custody lines and seal) is read by
`read_json` alone: strictly UTF-8, then held to these bounds, so a value nested too deeply
for Python is refused like one nested 33 deep, never crashed on.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, SkipValidation
from typing_extensions import TypeAliasType

from .canonical import canonical_json
from .clock import as_utc

NO_NUL = r"^[^\x00]*$"  # what the text checks enforce, stated in OpenAPI as a pattern
MAX_DEPTH = 32
MAX_BYTES = 256 * 1024
# How deep a whole document (a request body, a json bundle) may nest; its free-form values
# are held to MAX_DEPTH.
BODY_MAX_DEPTH = 64

Location = tuple[str | int, ...]
SHOWN_PARTS = 6  # of a problem's location, in its message

_SURROGATE = re.compile("[\ud800-\udfff]")
_SUSPECT_TEXT = re.compile("[\x00\ud800-\udfff]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# `2026-12-31T18:00:00+02:00` sent unencoded in a query string arrives with a space for the +.
_SPACE_FOR_PLUS = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)? \d{2}(:?\d{2})?$")


@dataclass(frozen=True)
class Problem:
    """What is wrong with a value, and where inside it (keys and list indexes)."""

    location: Location
    message: str

    def within(self, *outer: str | int) -> Problem:
        """The same problem, located from a value that holds this one at `outer`."""
        return Problem((*outer, *self.location), self.message)

    def __str__(self) -> str:
        if not self.location:
            return self.message
        parts = [str(part) for part in self.location[:SHOWN_PARTS]]
        if len(self.location) > SHOWN_PARTS:
            parts.append(f"… ({len(self.location)} levels)")
        where = ".".join(parts).encode("utf-8", "backslashreplace").decode("utf-8")
        return f"at {where}: {self.message}"


def text_problem(text: str, *, nul: bool = True) -> str | None:
    if nul and "\x00" in text:
        return "must not contain NUL characters"
    if _SURROGATE.search(text):
        return "must not contain lone surrogates (\\ud800 to \\udfff)"
    return None


NOT_FINITE = "must be a finite number (NaN, Infinity and numbers beyond 1.8e308 can't be stored)"


def _scalar_problem(value: Any, nul: bool) -> str | None:
    if isinstance(value, str):
        return text_problem(value, nul=nul)
    if isinstance(value, float) and not math.isfinite(value):
        return NOT_FINITE
    return None


def json_problem(
    value: Any, *, max_depth: int = MAX_DEPTH, max_bytes: int | None = MAX_BYTES, nul: bool = True
) -> Problem | None:
    """The first thing that keeps `value` (as `json.loads` gives it) from being stored, or None.

    Walks without recursion, so a value nested too deeply for Python is reported, not crashed
    on. `nul=False` lets NUL through (for a whole request body, whose text fields say
    themselves whether they take it)."""
    suspect = _SUSPECT_TEXT if nul else _SURROGATE  # text that may hold what can't be stored
    pending: list[tuple[Any, Location, int]] = [(value, (), 0)]
    while pending:
        node, location, depth = pending.pop()
        if isinstance(node, str):
            if suspect.search(node) is not None:
                return Problem(location, str(text_problem(node, nul=nul)))
        elif isinstance(node, dict):
            if depth >= max_depth:
                return Problem(location, f"nested more than {max_depth} levels deep")
            for key, item in node.items():
                if not isinstance(key, str) or suspect.search(key) is not None:
                    problem = _scalar_problem(key, nul)
                    if problem is not None:
                        return Problem((*location, key), f"key {problem}")
                pending.append((item, (*location, key), depth + 1))
        elif isinstance(node, list):
            if depth >= max_depth:
                return Problem(location, f"nested more than {max_depth} levels deep")
            pending.extend((item, (*location, index), depth + 1) for index, item in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            return Problem(location, NOT_FINITE)
    if max_bytes is not None and len(canonical_json(value).encode("utf-8")) > max_bytes:
        return Problem((), f"larger than {max_bytes} bytes as canonical JSON")
    return None


class NotJson(ValueError):
    """Text that is not JSON at all: where it breaks (a character offset) and why."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"not JSON ({reason}, at character {position})")
        self.position = position
        self.reason = reason


class OutOfBounds(ValueError):
    """JSON that the shard may not take: what is wrong, and where inside the value."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class TooDeep(OutOfBounds):
    """JSON nested too deeply for Python to read at all."""


def read_json(
    raw: str | bytes | bytearray,
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int | None = MAX_BYTES,
    nul: bool = True,
) -> Any:
    """The value untrusted JSON text holds, within the bounds (as `json_problem` takes them).
    Raises NotJson for text that is not UTF-8 or not JSON, OutOfBounds for JSON the bounds
    refuse (TooDeep for JSON nested too deeply for Python to read)."""
    if not isinstance(raw, str):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise NotJson(error.start, "the text is not UTF-8") from None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise NotJson(error.pos, error.msg) from None
    except RecursionError:
        raise TooDeep(Problem((), f"nested more than {max_depth} levels deep")) from None
    except ValueError:  # Python reads integers of at most 4,300 digits
        raise NotJson(0, "a number has more digits than can be read") from None
    problem = json_problem(value, max_depth=max_depth, max_bytes=max_bytes, nul=nul)
    if problem is not None:
        raise OutOfBounds(problem)
    return value


def _bounded_object(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    problem = json_problem(value)
    if problem is not None:
        raise ValueError(str(problem))
    return value


FREE_JSON = (
    f"Any JSON object: nested at most {MAX_DEPTH} levels deep, at most {MAX_BYTES} bytes as "
    "canonical JSON, finite numbers, text without NUL or lone surrogates."
)
_TEXT_KEYS = Field(json_schema_extra={"propertyNames": {"pattern": NO_NUL}})
# What OpenAPI says a free-form value is. The value is checked by `json_problem` in one pass
# (SkipValidation): letting pydantic walk this recursive union costs 30 times as much.
JsonValue = TypeAliasType(
    "JsonValue",
    "bool | int | float | Annotated[str, Field(pattern=NO_NUL)] | list[JsonValue] "
    "| Annotated[dict[str, JsonValue], _TEXT_KEYS] | None",
)
JsonObject = Annotated[
    SkipValidation[dict[str, JsonValue]],
    Field(description=FREE_JSON, json_schema_extra={"propertyNames": {"pattern": NO_NUL}}),
    AfterValidator(_bounded_object),
]


def _whole_number(value: Any) -> Any:
    """A JSON integer, also when written 2.0; never true, false or text, which pydantic
    would otherwise take for 1, 0 or the number written."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]


def _iso_text(value: Any) -> Any:
    """Only ISO 8601 text: pydantic would also take a number as seconds since 1970."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 date-time, such as 2026-12-31T18:00:00Z")
    if _SPACE_FOR_PLUS.match(value):
        raise ValueError(
            "has a space where its offset's + should be: in a URL's query a + stands for a "
            "space; write Z for UTC (2026-12-31T18:00:00Z) or the + as %2B "
            "(2026-12-31T18:00:00%2B02:00)"
        )
    return value


def _within_utc_range(moment: datetime) -> datetime:
    try:
        return as_utc(moment)
    except OverflowError:
        raise ValueError("is out of range: it must fall within years 1 to 9999 in UTC") from None


# A point in time given by a client, in UTC (no offset means UTC).
UtcInput = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_within_utc_range)]
