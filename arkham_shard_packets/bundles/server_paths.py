"""A bundle named by its path on the server: what the operating system refuses about that
path (a name too long, a loop of links, no permission...) said as a 4xx, naming the path as
the caller gave it and never as the server resolved it."""

from __future__ import annotations

import errno
import os

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
