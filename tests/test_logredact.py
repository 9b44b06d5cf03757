"""Share tokens never reach a log line: a live server's access log (uvicorn's) with the token's
path written every way that opens the link, and our filter on the records the other access
loggers it is installed on make (hypercorn's and gunicorn's pass their fields as a mapping)."""

from __future__ import annotations

import logging

import httpx

from arkham_shard_packets.sharing.log_redaction import RedactShareTokens, redact

from .live_host import LiveHost

API = "/api/packets"


def test_a_live_servers_access_log_never_shows_a_token(live_host: LiveHost) -> None:
    api = live_host.base + API
    packet = httpx.post(f"{api}/", json={"name": "Logged"}).json()
    tokens = [
        httpx.post(f"{api}/{packet['id']}/share", json={"shared_with": "public"}).json()[
            "access_token"
        ]
        for _ in range(6)
    ]
    # each opens the link: the server routes the decoded path
    opening = [
        f"{API}/shared/{tokens[0]}",
        f"{API}/%73hared/{tokens[1]}",
        f"{API}/shared%2F{tokens[2]}",
        f"{API}/%73%68%61%72%65%64%2f{tokens[3]}/view",
        f"{API}/shared/{tokens[4][:5]}%{ord(tokens[4][5]):02X}{tokens[4][6:]}?page=1",
    ]
    for path in opening:
        answer = httpx.get(live_host.base + path)
        assert answer.status_code == 200, (path, answer.text)
    # escaped twice: not a link to the server, but a token all the same
    assert httpx.get(f"{live_host.base}{API}/%2573hared/{tokens[5]}").status_code == 404
    live_host.stop()
    for token in tokens:
        assert token not in live_host.output
        assert token[:12] not in live_host.output
    logged = [line for line in live_host.output.splitlines() if "<redacted>" in line]
    assert len(logged) == len(opening) + 1, live_host.output
    assert f'"GET {API}/shared/<redacted>/view HTTP/1.1" 200' in live_host.output
    assert f'"GET {API}/shared/<redacted>?page=1 HTTP/1.1" 200' in live_host.output


def record(args: object) -> logging.LogRecord:
    return logging.LogRecord("hypercorn.access", logging.INFO, __file__, 1, "%s", (args,), None)


class Atoms(dict[str, str]):
    """A mapping as hypercorn's AccessLogAtoms is: a dict of its own kind, kept as it is."""


def test_the_filter_redacts_every_shape_an_access_logger_gives() -> None:
    token = "tok3n-SECRET_value"
    atoms = Atoms(
        {
            "r": f"GET /api/packets/%73hared/{token} HTTP/1.1",
            "U": f"/api/packets/shared%2F{token}",
            "q": f"next=%2Fapi%2Fpackets%2Fshared%2F{token}",
            "h": "127.0.0.1",
        }
    )
    mapped = record(atoms)
    assert mapped.args is atoms  # logging unwraps a lone mapping argument
    RedactShareTokens().filter(mapped)
    assert mapped.args is atoms
    assert dict(atoms) == {
        "r": "GET /api/packets/shared/<redacted> HTTP/1.1",
        "U": "/api/packets/shared/<redacted>",
        "q": "next=/api/packets/shared/<redacted>",
        "h": "127.0.0.1",
    }
    line = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/packets/shared/{token}/view?x=1", "1.1", 200),
        None,
    )
    RedactShareTokens().filter(line)
    assert line.getMessage() == (
        '127.0.0.1:5000 - "GET /api/packets/shared/<redacted>/view?x=1 HTTP/1.1" 200'
    )
    message = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, f"GET /api/packets/%73hared/{token}", (), None
    )
    RedactShareTokens().filter(message)
    assert message.getMessage() == "GET /api/packets/shared/<redacted>"


def test_what_the_decoded_path_holds_stays_escaped() -> None:
    """A token's place is redacted; the rest of a path is logged decoded and encoded again,
    so a caller's escaped line break or quote never reaches the log as one."""
    assert redact("/api/packets/%73hared/abc/%0Ax%22y") == "/api/packets/shared/<redacted>/%0Ax%22y"
    assert redact("/api/packets/shared/abc%0A/view") == "/api/packets/shared/<redacted>/view"
    assert (
        redact("/login?next=%2Fapi%2Fpackets%2Fshared%2Fabc&a=1")
        == "/login?next=/api/packets/shared/<redacted>&a=1"
    )
    unrelated = "/api/packets/%41bc/contents?q=%2Fx GET 200 'quoted'"
    assert redact(unrelated) == unrelated
