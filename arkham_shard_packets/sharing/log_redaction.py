"""Keeps share tokens out of log lines: servers log request paths, and a share link's path
holds its token. The filter rewrites `/shared/<token>` to `/shared/<redacted>`.

A path is read as the server routes it, percent-decoded: `/api/packets/%73hared/<token>` and
`/api/packets/shared%2F<token>` open the link as `/shared/<token>` does, so they are redacted
too (and logged decoded, then encoded again, so what a caller escaped stays escaped). Runs of
text without a share path are left as they are.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from urllib.parse import quote, unquote

RUN = re.compile(r"[^\s\"']+")  # a path, with its query, as a log line carries it
SHARE_PATH = "/shared/"
# Decoded, a token reaches the next slash (in a query, the next slash or &).
TOKEN_IN_PATH = re.compile(r"(/shared/)[^/]+")
TOKEN_IN_QUERY = re.compile(r"(/shared/)[^/&]+")
REDACTED = r"\1<redacted>"
KEPT = "/<>:@!$'()*+,;=~"  # left as they are when a path is encoded again
KEPT_IN_QUERY = KEPT + "&"
DECODINGS = 4  # a path escaped more than once is decoded this often at the most
ACCESS_LOGGERS = ("uvicorn.access", "gunicorn.access", "hypercorn.access")


def decoded(text: str) -> str:
    for _ in range(DECODINGS):
        plain = unquote(text, errors="replace")
        if plain == text:
            break
        text = plain
    return text


def _redact_run(match: re.Match[str]) -> str:
    run = match.group(0)
    path, mark, query = run.partition("?")
    return (
        _redacted(path, TOKEN_IN_PATH, KEPT)
        + mark
        + _redacted(query, TOKEN_IN_QUERY, KEPT_IN_QUERY)
    )


def _redacted(part: str, token: re.Pattern[str], kept: str) -> str:
    plain = decoded(part)
    if SHARE_PATH not in plain:
        return part
    return quote(token.sub(REDACTED, plain), safe=kept)


def redact(text: str) -> str:
    if "%" not in text and SHARE_PATH not in text:
        return text  # nothing to decode, no share path: every request but a link's
    return RUN.sub(_redact_run, text)


class RedactShareTokens(logging.Filter):
    """On each access logger: its message and its arguments, a tuple (uvicorn's) or a mapping
    of named fields (hypercorn's and gunicorn's access log atoms, changed in place)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, MutableMapping):
            for key, value in list(record.args.items()):
                if isinstance(value, str):
                    record.args[key] = redact(value)
        return True


def install() -> None:
    """Idempotent: the shard may be initialized more than once in one process."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactShareTokens) for f in logger.filters):
            logger.addFilter(RedactShareTokens())
