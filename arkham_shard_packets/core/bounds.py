"""What a value may be before it reaches the database: the bounds every input is held to.

Free-form JSON (a packet's `metadata`, an item's `data`, and any value that arrives in a
request body or a bundle) may hold only what the shard can store and render back:
  - nested at most `MAX_DEPTH` objects or arrays deep (deeper values break rendering),
  - at most `MAX_BYTES` of canonical JSON (what is stored and counted in `size_bytes`),
  - finite numbers (NaN, Infinity and 1e999 can't be written as JSON),
  - text, keys included, without lone surrogates (they can't be encoded as UTF-8) and
    without NUL (PostgreSQL text can't hold it).
Dates must be ISO 8601 text that stays within years 1 to 9999 once moved to UTC.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, SkipValidation
from typing_extensions import TypeAliasType

from .clock import as_utc
from .seal import canonical_json

NO_NUL = r"^[^\x00]*$"  # what the text checks enforce, stated in OpenAPI as a pattern
MAX_DEPTH = 32
MAX_BYTES = 256 * 1024
# How deep a whole request body may nest; its free-form values are held to MAX_DEPTH.
BODY_MAX_DEPTH = 64

Location = tuple[str | int, ...]
SHOWN_PARTS = 6  # of a problem's location, in its message

_SURROGATE = re.compile("[\ud800-\udfff]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# `2026-12-31T18:00:00+02:00` sent unencoded in a query string arrives with a space for the +.
_SPACE_FOR_PLUS = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)? \d{2}(:?\d{2})?$")


@dataclass(frozen=True)
class Problem:
    """What is wrong with a value, and where inside it (keys and list indexes)."""

    location: Location
    message: str

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


def _scalar_problem(value: Any, nul: bool) -> str | None:
    if isinstance(value, str):
        return text_problem(value, nul=nul)
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number (NaN, Infinity and numbers beyond 1.8e308 can't be stored)"
    return None


def json_problem(
    value: Any, *, max_depth: int = MAX_DEPTH, max_bytes: int | None = MAX_BYTES, nul: bool = True
) -> Problem | None:
    """The first thing that keeps `value` (as `json.loads` gives it) from being stored, or None.

    Walks without recursion, so a value nested too deeply for Python is reported, not crashed
    on. `nul=False` lets NUL through (for a whole request body, whose text fields say
    themselves whether they take it)."""
    pending: list[tuple[Any, Location, int]] = [(value, (), 0)]
    while pending:
        node, location, depth = pending.pop()
        if isinstance(node, dict):
            if depth >= max_depth:
                return Problem(location, f"nested more than {max_depth} levels deep")
            for key, item in node.items():
                problem = _scalar_problem(key, nul)
                if problem is not None:
                    return Problem((*location, key), f"key {problem}")
                pending.append((item, (*location, key), depth + 1))
        elif isinstance(node, list):
            if depth >= max_depth:
                return Problem(location, f"nested more than {max_depth} levels deep")
            pending.extend((item, (*location, index), depth + 1) for index, item in enumerate(node))
        else:
            problem = _scalar_problem(node, nul)
            if problem is not None:
                return Problem(location, problem)
    if max_bytes is not None and len(canonical_json(value).encode("utf-8")) > max_bytes:
        return Problem((), f"larger than {max_bytes} bytes as canonical JSON")
    return None


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
