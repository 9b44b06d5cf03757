"""Request bodies: read within a limit as they arrive, JSON read strictly, and what a route
declares about its body (`reads_body`).

A route with a JSON body reads at most `JSON_BODY_MAX` bytes unless it says otherwise; a
larger `Content-Length` is refused before a byte is read, and a body without one is cut off
as soon as it passes the limit. A route may name a check to run before its body is read
(a share link is looked up first, so a bad link costs nobody a read).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.types import Message, Receive

from .core.bounds import BODY_MAX_DEPTH, NotJson, OutOfBounds, TooDeep, read_json

KIB = 1024
JSON_BODY_MAX = 1024 * KIB
# Set in the request's scope once its whole body has been read.
BODY_READ = "packets.body_read"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
BeforeBody = Callable[[Request], Awaitable[None]]
_RULE = "__packets_body__"


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than the limit of {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class BodyRule:
    """`limit` None: the route streams its body and bounds it itself (file uploads)."""

    limit: int | None = JSON_BODY_MAX
    before: BeforeBody | None = None


def reads_body(
    limit: int | None = JSON_BODY_MAX, *, before: BeforeBody | None = None
) -> Callable[[Endpoint], Endpoint]:
    """Declare how a route reads its body: at most `limit` bytes, after `before` has run."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _RULE, BodyRule(limit, before))
        return endpoint

    return mark


def body_rule(endpoint: Callable[..., Any], has_body_param: bool) -> BodyRule | None:
    rule: BodyRule | None = getattr(endpoint, _RULE, None)
    if rule is None and has_body_param:
        return BodyRule()
    return rule


def declared_length(request: Request) -> int | None:
    """The Content-Length a client declared, if it is a plain decimal number (a thousand
    digits of it, or `²`, would make int() fail)."""
    value = request.headers.get("content-length", "")
    if not (value.isascii() and value.isdigit()):
        return None
    return int(value) if len(value) < 19 else 2**63


def body_left_unread(request: Request) -> bool:
    """Whether the client sent (or is sending) a body nobody read to its end. Answering such a
    request with `Connection: close` spares the server reading the rest just to drop it."""
    if request.scope.get(BODY_READ):
        return False
    return bool(declared_length(request)) or "transfer-encoding" in request.headers


DRAIN_MAX = 256 * 1024


async def drained(request: Request) -> bool:
    """Reads and drops a small unread body (at most DRAIN_MAX bytes, declared), so that a
    client still sending it reads the refusal instead of a reset connection. False, reading
    nothing, for a larger or undeclared body, or one the route began to read."""
    declared = declared_length(request)
    if declared is None or declared > DRAIN_MAX or getattr(request, "_stream_consumed", True):
        return False
    async for _ in request.stream():
        pass
    request.scope[BODY_READ] = True
    return True


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (BodyTooLarge) as soon as it is known to pass `limit`."""
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    request.scope[BODY_READ] = True
    return b"".join(chunks)


def replayed(request: Request, body: bytes) -> Request:
    """A request whose body is `body`, already read; later messages (a disconnect) still
    come from the client."""
    sent = False
    receive: Receive = request.receive

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, again)


def is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _invalid(position: int, reason: str) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "json_invalid",
                "loc": ("body", position),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": reason},
            }
        ]
    )


def parse_json(raw: bytes) -> Any:
    """JSON that the shard can store and render back, or a 422 that says where it is not."""
    try:
        return read_json(raw, max_depth=BODY_MAX_DEPTH, max_bytes=None, nul=False)
    except NotJson as error:
        raise _invalid(error.position, error.reason) from None
    except TooDeep:
        raise _invalid(0, "nested too deeply") from None
    except OutOfBounds as error:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", *error.problem.location),
                    "msg": f"Value error, {error.problem.message}",
                    "input": None,
                }
            ]
        ) from None


async def checked_json(request: Request, limit: int = JSON_BODY_MAX) -> Any:
    """For a route that reads its JSON body itself."""
    return parse_json(await read_body(request, limit))


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` written in place, for the OpenAPI entry of a
    route that reads its body itself (a `$defs` reference would point nowhere there)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolved(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                rest = {key: value for key, value in node.items() if key != "$ref"}
                return resolved({**definitions[reference.removeprefix("#/$defs/")], **rest})
            return {key: resolved(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolved(value) for value in node]
        return node

    return dict(resolved(schema))
