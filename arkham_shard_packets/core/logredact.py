"""Keeps share tokens out of log lines: servers log request paths, and a share link's path
holds its token. The filter rewrites `/shared/<token>` to `/shared/<redacted>`."""

from __future__ import annotations

import logging
import re

TOKEN_IN_PATH = re.compile(r"(/shared/)[^/?#\s\"']+")
REPLACEMENT = r"\1<redacted>"
ACCESS_LOGGERS = ("uvicorn.access", "gunicorn.access", "hypercorn.access")


def redact(text: str) -> str:
    return TOKEN_IN_PATH.sub(REPLACEMENT, text)


class RedactShareTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Idempotent: the shard may be initialized more than once in one process."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactShareTokens) for f in logger.filters):
            logger.addFilter(RedactShareTokens())
