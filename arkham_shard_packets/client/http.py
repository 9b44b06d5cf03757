"""One server's packets API over HTTP: a call answers the server's JSON, or raises `Refused`
(the server answered no: its status and `detail`) or `Unreachable` (no answer at all)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

DEFAULT_SERVER = "http://127.0.0.1:8100"
API = "/api/packets"
# Finalizing or exporting a large packet, or storing a large upload, takes the server a while
# before it answers; connecting does not.
TIMEOUT = httpx.Timeout(600.0, connect=10.0)
SHOWN_MAX = 300  # characters of a server's answer repeated in an error line


class Failed(Exception):
    """What was asked was not done: the server refused, or what it kept or sent is not what
    it should be."""


class Refused(Failed):
    """The server answered, and said no."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"the server refused ({status}): {detail}")
        self.status = status
        self.detail = detail


class Unreachable(Exception):
    """No answer: the server can't be reached, or the connection broke."""


class BadServer(ValueError):
    """The server's address isn't an http or https URL."""


def one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHOWN_MAX else flat[: SHOWN_MAX - 1] + "…"


def detail_of(response: httpx.Response) -> str:
    """What the server said was wrong: its `detail` (a validation error's problems, each with
    where), else the first words of its answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return one_line(detail)
    if isinstance(detail, list):
        problems = []
        for problem in detail:
            if not isinstance(problem, dict):
                continue
            where = ".".join(str(part) for part in problem.get("loc", [])[1:])
            said = str(problem.get("msg", "invalid"))
            problems.append(f"{where}: {said}" if where else said)
        return one_line("; ".join(problems) or "invalid request")
    return one_line(response.text) or response.reason_phrase or "no reason given"


def segment(value: str) -> str:
    """An id typed on the command line, as one segment of a path."""
    if value in ("", ".", ".."):
        raise BadServer(f"not an id: {value!r}")
    return quote(value, safe="")


def base_url(server: str) -> str:
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadServer(f"--server {server}: give an http or https URL, such as {DEFAULT_SERVER}")
    if parts.query or parts.fragment:
        raise BadServer(f"--server {server}: no query or fragment, only the server's address")
    return server.rstrip("/")


def _reason(error: httpx.TransportError) -> str:
    said = str(error).strip().splitlines()
    return said[-1] if said else type(error).__name__


class Server:
    """A running server's packets API, called with the bearer token when there is one."""

    def __init__(
        self, server: str, token: str | None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base = base_url(server)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=self.base, headers=headers, timeout=TIMEOUT, transport=transport
        )

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        """An address the server answered with (a path, or absolute already), made absolute."""
        return path if urlsplit(path).scheme else self.base + path

    def call(self, method: str, path: str, **sent: Any) -> Any:
        """The server's JSON answer (None when it answers no body)."""
        with self.stream(method, path, **sent) as response:
            response.read()
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise Refused(
                response.status_code, f"not an answer of the packets API: {one_line(response.text)}"
            ) from None

    def send_file(self, path: str, name: str, file: Any, media_type: str) -> Any:
        """A multipart upload of `file` (read in chunks as it is sent, never whole)."""
        try:
            return self.call("PUT", path, files={"file": (name, file, media_type)})
        except Unreachable as error:
            # A server that refuses an upload before reading it (too large) closes the
            # connection: the answer saying so is lost with it.
            raise Failed(
                f"the server closed the connection while {name} was being sent: it refuses "
                f"files over its ARKHAM_PACKETS_MAX_FILE_BYTES so, or it went away ({error})"
            ) from None

    @contextmanager
    def stream(self, method: str, path: str, **sent: Any) -> Iterator[httpx.Response]:
        """The server's answer, its body not read yet; a refusal raises `Refused`."""
        try:
            with self.http.stream(method, path, **sent) as response:
                if response.is_redirect:
                    where = response.headers.get("location", "elsewhere")
                    raise Refused(response.status_code, f"moved to {where}: give that as --server")
                if not response.is_success:
                    response.read()
                    raise Refused(response.status_code, detail_of(response))
                yield response
        except httpx.TransportError as error:
            raise Unreachable(f"can't reach {self.base}: {_reason(error)}") from None
