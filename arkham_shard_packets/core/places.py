"""How answers and events name a file on the server: by its place in the data directory
(`exports/packet-….zip`), never by an absolute path that shows how the server is laid out."""

from __future__ import annotations

from pathlib import Path


def place_in(folder: Path, path: Path) -> str | None:
    """`path` relative to `folder` (both taken as they are, links not followed), or None when
    it lies outside."""
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return None


def shown_path(data_dir: Path, path: Path, *others: Path) -> str:
    """A file's place in the data directory; else in the first of `others` that holds it;
    else its name alone."""
    for folder in (data_dir, *others):
        place = place_in(folder.resolve(), path.resolve())
        if place is not None:
            return place
    return path.name
