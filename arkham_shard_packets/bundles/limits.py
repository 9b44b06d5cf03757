"""The import limits the settings set, as `bundles/format` takes them."""

from __future__ import annotations

from ..config import Settings
from .format.limits import ImportLimits


def import_limits(settings: Settings) -> ImportLimits:
    return ImportLimits(
        max_archive_bytes=settings.import_max_archive_bytes,
        max_entries=settings.import_max_entries,
        max_total_bytes=settings.import_max_total_bytes,
        max_json_bytes=settings.import_max_json_bytes,
        max_items=settings.import_max_items,
        max_json_depth=settings.import_max_json_depth,
        max_value_bytes=settings.import_max_value_bytes,
        min_free_bytes=settings.import_min_free_bytes,
    )
