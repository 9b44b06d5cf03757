"""How every route of the shard answers, wherever its router is mounted (our host or the Frame).

`PacketsRoute` reads a route's body within its limit, after the route's own check
(`bodies.reads_body`), and renders every failure as `{"detail": ...}`: domain errors with
their status, FastAPI's validation errors (echoing at most a short excerpt of the input), a
lost database as 503 with Retry-After (a read is tried once more first) and a full disk as
507. Each route's OpenAPI entry lists the answers it can give.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from .bodies import (
    BodyTooLarge,
    body_left_unread,
    body_rule,
    drained,
    is_json,
    parse_json,
    read_body,
    replayed,
)
from .core.bounds import json_problem
from .core.outages import LOST, outage_of
from .errors import DatabaseUnavailable, PacketsError, PayloadTooLarge
from .records.examples import PACKET_ID

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

SAFE_METHODS = frozenset({"GET", "HEAD"})
EXCERPT = 64
CONTEXT_EXCERPT = 256
VALUE_ERROR = "Value error, "


STATUS_TEXT = {
    401: "No valid Frame user where one is needed, or a share password missing or wrong",
    403: "Not permitted",
    404: "Not found",
    409: "Refused by the packet's state",
    410: "Expired",
    412: "Stale version",
    413: "Too large",
    416: "The requested range is not within the file",
    422: "Invalid input",
    429: "Too many attempts",
    503: "The database or the file store is unavailable; try again after Retry-After seconds",
    507: "The disk is full; nothing was changed",
}


# What each failure's answer looks like, as the shard words it (the interactive docs show it).
ERROR_EXAMPLES = {
    401: "packets needs a signed-in Frame user here: send Authorization: Bearer <token> "
    "(share links need none)",
    403: "vera@example.org has the role 'viewer', which may read packets but not change them; "
    "changes need the analyst or admin role",
    404: f"packet {PACKET_ID} not found",
    409: f"packet {PACKET_ID} is finalized; only a draft can be changed",
    410: "this share link expired at 2026-03-31T18:00:00.000000+00:00",
    412: f"packet {PACKET_ID} has changed since it was read (ETag mismatch)",
    413: "the request body is larger than the limit of 1048576 bytes",
    416: "the requested range is not within the file's 45 bytes",
    422: "invalid bundle: data/items/0001-document.json: its sha256 does not match the manifest",
    429: "too many wrong passwords for this share link; try again in 300 seconds",
    503: LOST,
    507: "the server's disk is full; nothing was changed",
}
ERROR_SCHEMA = {
    "title": "ErrorBody",
    "type": "object",
    "properties": {"detail": {"type": "string", "title": "Detail"}},
    "required": ["detail"],
}
VALIDATION_EXAMPLE = {
    "detail": [{"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": {}}]
}


def example_of(code: int) -> dict[str, Any]:
    return {
        "application/json": {"example": {"detail": ERROR_EXAMPLES.get(code, STATUS_TEXT[code])}}
    }


PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"},
        "type": {"type": "string"},
        "input": {},
        "ctx": {"type": "object"},
    },
    "required": ["loc", "msg", "type"],
}
# Our own checks answer 422 with a sentence; FastAPI's with its list of problems.
VALIDATION_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"anyOf": [{"type": "string"}, {"type": "array", "items": PROBLEM_SCHEMA}]}
    },
    "required": ["detail"],
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}


def json_failure(code: int, schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON failure's OpenAPI entry: its schema written out, not given as a model (FastAPI
    makes a validator for each model a route names, again in every app that includes it)."""
    example = (
        {"example": VALIDATION_EXAMPLE} if code == 422 else example_of(code)["application/json"]
    )
    return {
        "description": STATUS_TEXT.get(code, "Error"),
        "content": {"application/json": {"schema": schema, **example}},
    }


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error codes a route can answer with (422, 413, 503 and 507
    are added by `PacketsRoute` itself)."""
    return {code: json_failure(code, ERROR_SCHEMA) for code in codes}


def _text(value: str, limit: int) -> str:
    """Text that can be sent as UTF-8 (lone surrogates written as escapes), cut to `limit`."""
    value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value if len(value) <= limit else value[:limit] + "…"


def excerpt(value: Any, limit: int = EXCERPT) -> Any:
    """What a validation error may echo of the input: the value when it is small and can be
    rendered as JSON, else a short piece of its text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, int):
        digits = str(value) if abs(value) < 10**limit else "a very large number"
        return value if len(digits) <= limit else digits
    if isinstance(value, bytes):
        return _text(value[: limit * 4].decode("utf-8", "replace"), limit)
    if isinstance(value, str):
        return _text(value, limit)
    if isinstance(value, (dict, list)):
        if json_problem(value, max_depth=4, max_bytes=limit, nul=False) is None:
            return value
        text = json.dumps(value, ensure_ascii=False, default=str)
        return _text(text, limit)
    return _text(str(value), limit)


def clean_problems(problems: Any) -> list[dict[str, Any]]:
    cleaned = []
    for problem in problems:
        entry: dict[str, Any] = {
            "type": _text(str(problem.get("type", "value_error")), EXCERPT),
            "loc": [
                part if isinstance(part, int) else _text(str(part), EXCERPT)
                for part in problem.get("loc", ())
            ],
            # our own checks' messages are sentences: pydantic's prefix adds nothing to them
            "msg": _text(str(problem.get("msg", "")).removeprefix(VALUE_ERROR), CONTEXT_EXCERPT),
        }
        if "input" in problem:
            entry["input"] = excerpt(problem["input"])
        context = problem.get("ctx")
        if isinstance(context, Mapping):
            entry["ctx"] = {
                _text(str(key), EXCERPT): excerpt(item, CONTEXT_EXCERPT)
                for key, item in context.items()
            }
        cleaned.append(entry)
    return cleaned


class PacketsRoute(APIRoute):
    # A route that records something (an access log entry) even when it answers a GET.
    writes_on_read = False
    # Its caller's failures: no Frame user where one is needed, a role that may not do it, a
    # share link's password (frame/callers.py, sharing/).
    caller_failures: tuple[int, ...] = (401, 403)

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        # 422 is documented below, in the shape both our checks and FastAPI's give it.
        responses = {
            code: entry
            for code, entry in (options.pop("responses", None) or {}).items()
            if str(code) != "422"
        }
        responses = {**error_responses(*self.caller_failures), **responses}
        super().__init__(path, endpoint, responses=responses, **options)
        self.body_rule = body_rule(endpoint, self.body_field is not None)
        for code, entry in self._failures().items():
            self.responses.setdefault(code, entry)

    # -- OpenAPI ---------------------------------------------------------------------------

    def failure_entry(self, code: int, schema: dict[str, Any]) -> dict[str, Any]:
        return json_failure(code, schema)

    def _failures(self) -> dict[int | str, dict[str, Any]]:
        entries: dict[int | str, dict[str, Any]] = {}
        if self.body_rule is not None or get_flat_params(self.dependant):
            entries[422] = self.failure_entry(422, VALIDATION_SCHEMA)
        if self.body_rule is not None:
            entries[413] = self.failure_entry(413, ERROR_SCHEMA)
        entries[503] = {**self.failure_entry(503, ERROR_SCHEMA), "headers": RETRY_AFTER}
        if self.writes_on_read or set(self.methods or ()) - SAFE_METHODS:
            entries[507] = self.failure_entry(507, ERROR_SCHEMA)
        return entries

    # -- answering -------------------------------------------------------------------------

    def error_response(self, error: PacketsError) -> Response:
        return JSONResponse(
            {"detail": error.detail}, status_code=error.status_code, headers=error.headers
        )

    def validation_response(self, problems: list[dict[str, Any]]) -> Response:
        return JSONResponse({"detail": problems}, status_code=422)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await self._answer(handler, request)
            except PacketsError as error:
                refused = self.error_response(error)
            except BodyTooLarge as error:
                refused = self.error_response(PayloadTooLarge(str(error)))
            except RequestValidationError as error:
                refused = self.validation_response(clean_problems(error.errors()))
            if body_left_unread(request) and not await drained(request):
                refused.headers["Connection"] = "close"
            return refused

        return handle

    async def _answer(self, handler: Handler, request: Request) -> Response:
        rule = self.body_rule
        if rule is not None:
            if rule.before is not None:
                await rule.before(request)
            if rule.limit is not None:
                body = await read_body(request, rule.limit)
                if self.body_field is not None and body and is_json(request):
                    parse_json(body)
                request = replayed(request, body)
        try:
            return await handler(request)
        except Exception as error:
            outage = self._outage(error)
            if not isinstance(outage, DatabaseUnavailable) or request.method not in SAFE_METHODS:
                raise outage from error
        try:  # a read is tried once more: the pool hands out a fresh connection
            return await handler(request)
        except Exception as error:
            raise self._outage(error) from error

    @staticmethod
    def _outage(error: Exception) -> PacketsError:
        outage = outage_of(error)
        if outage is None:
            raise error
        logger.warning("packets: %s (%s: %s)", outage.detail, type(error).__name__, error)
        return outage


class ProbeRoute(PacketsRoute):
    """A liveness probe's route: it needs no caller and reads no database, so its answer is
    its 200 alone; the 401 and 403 of the routes beside it and the 503 any other route may
    give are not its answers, and its OpenAPI entry does not list them."""

    caller_failures = ()

    def _failures(self) -> dict[int | str, dict[str, Any]]:
        return {}
