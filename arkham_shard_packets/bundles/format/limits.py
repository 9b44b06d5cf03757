"""What an imported bundle may be: every limit is checked before anything is stored.

The numbers match what the API accepts, so that nothing an import stores could not have been
entered through the API (and served back) as well.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024

MAX_JSON_DEPTH = 32  # nesting of a free-form value (an item's data, the packet's metadata)
MAX_VALUE_BYTES = 1 * MIB  # a free-form value's canonical JSON
MAX_ORDER = 2**31 - 1  # as the API's `order`
MAX_VERSION = 1_000_000_000  # leaves room for the versions recorded after an import
MAX_SIZE = 2**63 - 1
TAG_BYTES = 128 * MIB  # all files outside data/ together (manifests, bag-info, ...)
# How deep a whole document (packet.json, a json bundle) may nest: far deeper than a value in
# it may (whose own check says better what is wrong), shallow enough for Python to walk it
# recursively (about two frames a level, of the 1,000 it allows).
DOCUMENT_MAX_DEPTH = 200


@dataclass(frozen=True)
class ImportLimits:
    max_archive_bytes: int = 4096 * MIB
    max_entries: int = 40_000  # an item can bring three: its data, its file, its original
    max_total_bytes: int = 8192 * MIB  # expanded, all entries together, counted as written
    max_json_bytes: int = 64 * MIB  # parsed in memory: packet.json, or a json bundle's text
    # without its inline files (which are decoded to disk as they are read)
    max_items: int = 10_000
    max_json_depth: int = MAX_JSON_DEPTH
    max_value_bytes: int = MAX_VALUE_BYTES
    min_free_bytes: int = 256 * MIB  # an import stops (507) rather than fill the disk
