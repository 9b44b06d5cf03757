"""The import limits the settings set, as `bundles/format` takes them."""

from __future__ import annotations

from ..config import Settings
from .format.limits import ImportLimits


def import_limits(settings: Settings) -> ImportLimits:
    return ImportLimits(
        max_archive_bytes=settings.import_max_archive_bytes,
        max_entries=settings.import_max_entries,
        max_total_bytes=settings.import_max_total_bytes,
        max_ratio=settings.import_max_ratio,
        max_json_bytes=settings.import_max_json_bytes,
    )
