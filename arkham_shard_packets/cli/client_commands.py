"""`arkham-packets push`, `pull`, `ls`, `show`, `finalize` and `share`: a running server's
packets API, for scripts (the HTTP calls are client/'s). The server is `--server`, else
ARKHAM_PACKETS_SERVER, else http://127.0.0.1:8100; the bearer token `--token`, else
ARKHAM_PACKETS_TOKEN. Exit status: 0 done, 1 the server refused (its `detail` in one line),
2 a usage error or no server answering, and `pull` ends with its bundle's `verify` status."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from ..client.folder import LocalFile
from ..client.http import API, DEFAULT_SERVER, BadServer, Failed, Server, Unreachable, segment
from ..client.pull import pull, server_keys
from ..client.push import Ambiguous, push
from ..models import ExportFormat, PacketStatus, SharePermission
from .bundles import plural, report, verify_bundle
from .options import UsageError, add_command
from .progress import Meter, binary_size

SERVER_ENV = "ARKHAM_PACKETS_SERVER"
TOKEN_ENV = "ARKHAM_PACKETS_TOKEN"
REFUSED, NOT_REACHED = 1, 2  # and a usage error is 2, as for every command

Handler = Callable[[argparse.Namespace, Server], int]


def error(said: object) -> None:
    print(f"arkham-packets: error: {said}", file=sys.stderr)


def connect(args: argparse.Namespace) -> Server:
    server = args.server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER
    return Server(server, args.token or os.environ.get(TOKEN_ENV) or None)


def calling(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """The command, against the server: each way it can fail as one line and its status."""

    @wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            with connect(args) as server:
                return handler(args, server)
        except (BadServer, Ambiguous) as wrong:
            raise UsageError(str(wrong)) from None
        except Failed as failed:
            error(failed)
            return REFUSED
        except Unreachable as unreachable:
            error(unreachable)
            return NOT_REACHED
        except OSError as local:  # a file or folder here: as a usage error
            where = f"{local.filename}: " if local.filename else ""
            raise UsageError(f"{where}{local.strerror or local}") from None

    return run


def shown(text: str) -> str:
    """Text from the server as a terminal may show it: quoted and escaped when it holds a
    control character (an escape sequence would act on the terminal)."""
    return text if text.isprintable() else repr(text)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


class PushShown:
    """What push tells, on stdout as it happens (above the bar, if there is one)."""

    def __init__(self, bar: Meter) -> None:
        self.bar = bar
        self.expect = bar.expect

    def __call__(self, done: int) -> None:
        self.bar(done)

    def found(self, packet: dict[str, Any], how: str) -> None:
        self.bar.say(f"packet {packet['id']} {packet['name']!r} ({how})")

    def sent(self, file: LocalFile) -> None:
        self.bar.say(f"  sent {file.relative} ({binary_size(file.size)})")


@calling
def push_command(args: argparse.Namespace, server: Server) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"{args.folder} is not a folder")
    name = (args.name or folder.resolve().name).strip()
    if not name and args.packet is None:
        raise UsageError(f"{args.folder} has no name to give the packet: give --name")

    with Meter("push", args.quiet) as bar:
        pushed = push(server, folder, args.packet, name, PushShown(bar))
    for why in pushed.left_out:
        print(f"warning: left out {why}", file=sys.stderr)
    print(
        f"{plural(len(pushed.sent), 'file')} sent ({binary_size(pushed.sent_bytes)}), "
        f"{pushed.skipped} already there"
    )
    if pushed.elsewhere:
        print(f"{plural(pushed.elsewhere, 'item')} of the packet not in {args.folder}: left as is")
    return 0


@calling
def pull_command(args: argparse.Namespace, server: Server) -> int:
    output = None if args.output is None else Path(args.output)
    if output is not None and output.is_dir():
        raise UsageError(f"{args.output} is a directory: give the name of the file to write")
    trust, revoked = list(args.trust), list(args.revoked)
    if args.trust_server:
        keys, revocations = server_keys(server)
        trust += keys
        revoked += revocations
    with Meter("pull", args.quiet) as bar:
        pulled = pull(server, args.packet_id, args.format, output, bar)
    report(pulled.export["errors"], pulled.export["warnings"])
    print(
        f"{pulled.path}: {binary_size(pulled.export['file_size_bytes'])}, sha256 "
        f"{pulled.export['sha256']}"
    )
    return verify_bundle(pulled.path, trust, revoked, args.quiet)


@calling
def ls_command(args: argparse.Namespace, server: Server) -> int:
    asked = {"limit": args.limit, "offset": args.offset, "status": args.status}
    asked["search"] = args.search
    page = server.call(
        "GET", f"{API}/", params={key: value for key, value in asked.items() if value is not None}
    )
    if args.json:
        print_json(page)
        return 0
    for packet in page["items"]:
        print(
            f"{packet['id']}  {packet['status']:<9}  v{packet['version']:<3} "
            f"{packet['contents_count']:>5} items {binary_size(packet['size_bytes']):>10}  "
            f"{shown(packet['name'])}"
        )
    reached = page["offset"] + len(page["items"])
    if reached < page["total"]:
        more = f"{len(page['items'])} of {page['total']}: --offset {reached} for more"
        print(more, file=sys.stderr)
    return 0


@calling
def show_command(args: argparse.Namespace, server: Server) -> int:
    where = f"{API}/{segment(args.packet_id)}"
    packet = server.call("GET", where)
    contents = server.call("GET", f"{where}/contents")
    if args.json:
        print_json({"packet": packet, "contents": contents})
        return 0
    print(f"packet {packet['id']} {packet['name']!r}")
    print(f"  {packet['status']}, version {packet['version']}, {packet['visibility']}")
    items = plural(packet["contents_count"], "item")
    print(f"  {items}, {binary_size(packet['size_bytes'])}")
    print(f"  created {packet['created_at']} by {packet['created_by']}")
    print(f"  updated {packet['updated_at']}")
    print(f"  checksum {packet['checksum'] or 'none (not sealed)'}")
    if packet["description"]:
        print(f"  description: {shown(packet['description'])}")
    for item in contents:
        file = item.get("file")
        held = (
            "no file"
            if file is None
            else (
                f"{shown(file['name'])}, {shown(file['media_type'])}, "
                f"{binary_size(file['size'])}, "
                f"sha256 {file['sha256']}"
            )
        )
        named = f"{item['content_type']} {shown(item['content_id'])}: {item['content_title']!r}"
        print(f"  - {named}; {held}")
    return 0


@calling
def finalize_command(args: argparse.Namespace, server: Server) -> int:
    packet = server.call("POST", f"{API}/{segment(args.packet_id)}/finalize")
    print(
        f"packet {packet['id']} {packet['status']}: version {packet['version']}, "
        f"checksum {packet['checksum']}"
    )
    return 0


@calling
def share_command(args: argparse.Namespace, server: Server) -> int:
    body: dict[str, Any] = {"shared_with": args.shared_with, "permissions": args.permissions}
    if args.expires is not None:
        body["expires_at"] = args.expires
    password = args.password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if password is not None:
        body["password"] = password
    share = server.call("POST", f"{API}/{segment(args.packet_id)}/share", json=body)
    share["share_url"] = server.url(share["share_url"])
    if args.json:
        print_json(share)
        return 0
    until = share["expires_at"] or "never"
    locked = ", behind a password" if share["password_protected"] else ""
    print(f"share {share['id']}: {share['permissions']} for {share['shared_with']}{locked}")
    print(f"  link     {share['share_url']}")
    print(f"  token    {share['access_token']} (shown once)")
    print(f"  expires  {until}")
    return 0


def _server_options(parser: argparse.ArgumentParser, json_answer: bool = False) -> None:
    parser.add_argument(
        "--server",
        default=None,
        metavar="URL",
        help=f"the server's address (default: {SERVER_ENV}, else {DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="the bearer token: the server's ARKHAM_PACKETS_API_TOKEN, or a Frame user's "
        f"(`arkham-packets token EMAIL`) (default: {TOKEN_ENV}, else none)",
    )
    if json_answer:
        parser.add_argument("--json", action="store_true", help="print the server's answer as JSON")


def _quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bar (there is none anyway when stderr is not a terminal)",
    )


def add_client_commands(commands: Any) -> None:
    _add_push(commands)
    _add_pull(commands)
    listing = add_command(commands, "ls", "list the packets on a server, newest first")
    listing.add_argument(
        "--status",
        choices=[status.value for status in PacketStatus],
        help="only packets in this status (default: any)",
    )
    listing.add_argument(
        "--search",
        metavar="TEXT",
        help="only packets whose name or description holds TEXT (default: all)",
    )
    listing.add_argument("--limit", type=int, default=50, help="at most this many (1 to 500)")
    listing.add_argument("--offset", type=int, default=0, help="skip this many first (default: 0)")
    _server_options(listing, json_answer=True)
    listing.set_defaults(handler=ls_command)
    show = add_command(commands, "show", "show a packet on a server and its items")
    show.add_argument("packet_id", help="the packet's id")
    _server_options(show, json_answer=True)
    show.set_defaults(handler=show_command)
    final = add_command(commands, "finalize", "finalize a draft on a server: seal and lock it")
    final.add_argument("packet_id", help="the packet's id")
    _server_options(final)
    final.set_defaults(handler=finalize_command)
    _add_share(commands)


def _add_push(commands: Any) -> None:
    push = add_command(
        commands,
        "push",
        "send a folder to a server as a draft packet: one document item per file, its path "
        "the item's content id and title; again, only what changed is sent",
    )
    push.add_argument("folder", help="the folder (its files and those of its subfolders)")
    which = push.add_mutually_exclusive_group()
    which.add_argument(
        "--name",
        help="the packet's name, and the draft found again by it (default: the folder's name)",
    )
    which.add_argument(
        "--packet",
        metavar="ID",
        help="push into this draft (default: the only draft named --name, else a new one)",
    )
    _quiet(push)
    _server_options(push)
    push.set_defaults(handler=push_command)


def _add_pull(commands: Any) -> None:
    pull = add_command(
        commands,
        "pull",
        "export a packet on a server, download it and verify it as `verify` does (its exit "
        "status too)",
    )
    pull.add_argument("packet_id", help="the packet's id")
    pull.add_argument(
        "--format",
        choices=[f.value for f in ExportFormat],
        default="zip",
        help="a BagIt bag in a zip or tar.gz, or one json document",
    )
    pull.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the file to write (default: the server's name for the export, in this folder)",
    )
    pull.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="KEYFILE",
        help="a key you trust, as `verify --trust` takes it; repeatable, and added to "
        "ARKHAM_PACKETS_TRUSTED_KEYS (default: none)",
    )
    pull.add_argument(
        "--revoked",
        action="append",
        default=[],
        metavar="FINGERPRINT@TIME",
        help="a revoked key, as `verify --revoked` takes it; repeatable, and added to "
        "ARKHAM_PACKETS_REVOKED_KEYS (default: none)",
    )
    pull.add_argument(
        "--trust-server",
        action="store_true",
        help="trust the keys the server lists (GET /keys, its revocations too): proves the "
        "bundle is what this server sealed, not who runs it",
    )
    _quiet(pull)
    _server_options(pull)
    pull.set_defaults(handler=pull_command)


def _add_share(commands: Any) -> None:
    share = add_command(commands, "share", "make a share link to a packet on a server")
    share.add_argument("packet_id", help="the packet's id")
    share.add_argument(
        "--with",
        dest="shared_with",
        default="public",
        metavar="WHO",
        help="public (anyone with the link), an email address or a user id",
    )
    share.add_argument(
        "--permissions",
        choices=[p.value for p in SharePermission],
        default=SharePermission.VIEW.value,
        help="what the link allows",
    )
    share.add_argument(
        "--expires",
        metavar="TIME",
        help="when the link stops working, ISO 8601 (default: never)",
    )
    secret = share.add_mutually_exclusive_group()
    secret.add_argument(
        "--password", help="the password the link asks for, 8 characters or more (default: none)"
    )
    secret.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (kept out of the process list)",
    )
    _server_options(share, json_answer=True)
    share.set_defaults(handler=share_command)
