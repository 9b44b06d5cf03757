"""JSON texts finished in SQL: a text built in Python around values that only the row a
statement's lock returns holds (db/row_inserts.py, RowLock), such as what a removal deleted.

Python encodes the value with a marker where each such value goes, and leaves a template for
PostgreSQL's `format()`: the markers become `%s`, every other `%` is doubled. SQL puts each
value in as `to_json(value)::text`, which escapes a string as Python's json module does
(`"`, `\\`, `\\b \\f \\n \\r \\t`, other control characters as `\\u00xx`, nothing else), so the
text is the one Python would have encoded: canonical JSON stays canonical.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, literal_column

from .row_inserts import LOCK


@dataclass(frozen=True)
class FromLock:
    """A text of the locked row: element `index` (from 1) of its text array `column`."""

    column: str
    index: int

    def json(self) -> Any:
        """In SQL: the value as a JSON string."""
        value = literal_column(f"{LOCK}.{self.column}[{self.index}]", type_=Text)
        return cast(func.to_json(value), Text)

    def read(self, row: Any) -> Any:
        """In Python: the value in the locked row as the statement returned it."""
        return row[self.column][self.index - 1]


def template(encode: Callable[[Any], str], value: Any) -> tuple[str, tuple[FromLock, ...]]:
    """`encode(value)` as a template of `format()` and the FromLock values it leaves to SQL,
    in the order of their `%s`."""
    markers: dict[str, FromLock] = {}

    def marked(node: Any) -> Any:
        if isinstance(node, FromLock):
            marker = uuid.uuid4().hex
            markers[marker] = node
            return marker
        if isinstance(node, dict):
            return {key: marked(item) for key, item in node.items()}
        return node

    text = encode(marked(value))
    places = sorted((_only_place(text, f'"{marker}"'), marker) for marker in markers)
    pieces, start = [], 0
    for place, marker in places:
        pieces.append(text[start:place].replace("%", "%%"))
        start = place + len(marker) + 2
    pieces.append(text[start:].replace("%", "%%"))
    return "%s".join(pieces), tuple(markers[marker] for _, marker in places)


def _only_place(text: str, quoted: str) -> int:
    place = text.find(quoted)
    if place < 0 or text.find(quoted, place + 1) >= 0:
        raise ValueError("a value left to SQL must be a string the text holds once")
    return place


def has_values_from_lock(value: Any) -> bool:
    if isinstance(value, FromLock):
        return True
    return isinstance(value, dict) and any(has_values_from_lock(item) for item in value.values())


@dataclass(frozen=True)
class Formatted:
    """A derived text column (row_inserts.Derive): the template in the parameter
    `<place>_<column>` with `values` put in. Equal for equal arguments, so statements built
    from it are cached."""

    column: str
    values: tuple[FromLock, ...]

    def __call__(self, place: str) -> Any:
        template_text = bindparam(f"{place}_{self.column}", type_=Text)
        return func.format(template_text, *(value.json() for value in self.values), type_=Text)
