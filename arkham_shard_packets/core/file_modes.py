"""Who may read the data directory: its owner alone, unless ARKHAM_PACKETS_DATA_DIR_MODE says
otherwise. It holds the database (share digests, password hashes, all content), the exports and
the stored files, so folders are made with the folder mode (0700), files with it less the
execute bits (0600), and the store's files, never written again, less the write bits too
(0400). These are the widest modes: a stricter umask narrows what is made further.
Temporary files are made 0600 whatever the setting: nobody else has a use for them.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class FileModes:
    folder: int = PRIVATE_FOLDER

    @property
    def file(self) -> int:
        return self.folder & 0o666

    @property
    def sealed(self) -> int:
        """A stored file's: read-only, for whoever may read the data directory."""
        return self.folder & 0o444

    def make_folder(self, path: Path) -> Path:
        """`mkdir -p`, each folder it makes with the folder mode (parents included, which
        `Path.mkdir` would make with the umask's)."""
        missing: list[Path] = []
        folder = path
        while not folder.is_dir() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            try:
                folder.mkdir(mode=self.folder)
            except FileExistsError:
                if not folder.is_dir():
                    raise
        return path

    def own_folder(self, path: Path) -> None:
        """The data directory itself: made with the folder mode, or, made earlier with a wider
        one (before this setting existed), narrowed to it."""
        self.make_folder(path)
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~self.folder:
            try:
                os.chmod(path, current & self.folder)
            except OSError as error:
                logger.warning(
                    "packets: the data directory %s is readable by others (mode %o) and can't "
                    "be narrowed to %o: %s",
                    path,
                    current,
                    self.folder,
                    error.strerror,
                )

    def create(self, path: Path) -> BinaryIO:
        """A new file to write (an existing one is FileExistsError), with the file mode."""
        return create_file(path, self.file)

    def seal(self, path: Path) -> None:
        os.chmod(path, self.sealed)


PRIVATE = FileModes()


def create_file(path: Path, mode: int = PRIVATE_FILE) -> BinaryIO:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    return os.fdopen(descriptor, "wb")
