"""A bundle named by its path on the server: read only inside an allowed import folder, after
following links (`ImportFolders`), and what the operating system refuses about that path (a
name too long, a loop of links, no permission...) said as a 4xx, naming the path as the
caller gave it and never as the server resolved it."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from ..core.places import place_in
from ..errors import Forbidden, InvalidInput, NotFound, PacketsError

MISSING = {errno.ENOENT, errno.ENOTDIR}
DENIED = {errno.EACCES, errno.EPERM}


def path_refused(file_path: str, error: OSError | RuntimeError) -> PacketsError:
    """`error`, raised while `file_path` was resolved or opened; a RuntimeError is what
    Python 3.11's `Path.resolve` raises for a loop of links."""
    code = getattr(error, "errno", None)
    if code in MISSING:
        return NotFound(f"no file at {file_path}")
    if code in DENIED:
        return Forbidden(f"the server is not permitted to read {file_path}")
    if code == errno.ENAMETOOLONG:
        return InvalidInput("file_path holds a file or folder name too long for the server")
    if code == errno.ELOOP or isinstance(error, RuntimeError):
        return InvalidInput(f"{file_path} leads into a loop of symbolic links")
    reason = os.strerror(code) if isinstance(code, int) else "it can't be opened"
    return InvalidInput(f"the server can't read {file_path}: {reason}")


@dataclass(frozen=True)
class ImportFolders:
    """The folders an import may read a bundle from by its path. A relative `file_path` is a
    place in the data directory, as export answers name it."""

    data_dir: Path
    allowed_dirs: list[Path]

    def places(self) -> str:
        """The allowed folders as the 403 names them: a folder in the data directory by its
        place there (`imports/`), one configured elsewhere as configured."""
        data_dir = self.data_dir.resolve()
        inside: list[str] = []
        elsewhere: list[str] = []
        for folder in self.allowed_dirs:
            place = place_in(data_dir, folder.resolve())
            if place is None:
                elsewhere.append(str(folder))
            else:
                inside.append(f"{place}/")
        named = [" and ".join(inside) + " in the data directory"] if inside else []
        return "; ".join(named + elsewhere)

    def file_at(self, file_path: str) -> Path:
        """The file `file_path` names, resolved, refused unless it is in an allowed folder and
        can be opened."""
        try:
            resolved = (self.data_dir / file_path).resolve()
        except (OSError, RuntimeError) as error:  # a loop of links: where it leads is unknown
            if not self._inside(Path(os.path.normpath(self.data_dir.resolve() / file_path))):
                raise self._outside(file_path) from None
            raise path_refused(file_path, error) from None
        if not self._inside(resolved):
            raise self._outside(file_path)
        try:
            if not resolved.is_file():
                raise NotFound(f"no file at {file_path}")
            with open(resolved, "rb"):  # what the import will read, refused now if it can't be
                pass
        except OSError as error:
            raise path_refused(file_path, error) from None
        return resolved

    def place_named(self, file_path: str) -> str | None:
        """The place in the data directory `file_path` names, when in an allowed folder."""
        data_dir = self.data_dir.resolve()
        named = Path(os.path.normpath(data_dir / file_path))
        return place_in(data_dir, named) if self._inside(named) else None

    def _inside(self, path: Path) -> bool:
        return any(path.is_relative_to(folder.resolve()) for folder in self.allowed_dirs)

    def _outside(self, file_path: str) -> Forbidden:
        return Forbidden(
            f"{file_path} is outside the allowed import folders ({self.places()}); "
            "put the bundle in one of them and give its path (a relative path is read from "
            "the data directory, as imports/<name>), or upload it as the multipart field "
            "'file'"
        )
