"""The `arkham-packets` command: the standalone host, the packets' bundles and database
without a server, and a running server's packets for scripts (push, pull, ls, show, finalize,
share)."""

from __future__ import annotations

import argparse
import errno
import importlib
import ipaddress
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..config import DEFAULT_PORT
from ..core.file_modes import FileModes
from ..version import __version__
from .banner import banner
from .installation import add_init_command, check_data_dir, require_installation, run
from .options import Help, UsageError, add_command, add_database_options, settings_of
from .pipes import ending_quietly_on_a_closed_pipe
from .users import UsersUnavailable, add_user_commands, host_auth

if TYPE_CHECKING:
    from ..host.app import HostConfig


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise UsageError(f"port {port} on {host} is already in use") from None
            raise UsageError(f"can't listen on {host}:{port}: {error.strerror}") from None


def check_database(url: str, file_mode: int) -> None:
    import asyncio

    from ..db.probe import DatabaseUnusable, probe

    try:
        asyncio.run(probe(url, file_mode))
    except DatabaseUnusable as error:
        raise UsageError(str(error)) from None


def check_store(config: HostConfig) -> None:
    """The store the settings name, written, read and deleted from once (an S3 bucket: head,
    then a small object under the prefix), or one line saying why not."""
    import asyncio

    from ..core.store import StoreUnusable
    from ..stores import probe

    try:
        asyncio.run(probe(config.shard_settings(), config.data_dir, config.modes))
    except StoreUnusable as error:
        raise UsageError(str(error)) from None


def host_config(args: argparse.Namespace) -> HostConfig:
    """The host's settings, checked: a public address only with a token (or --insecure), and
    a data directory it can write."""
    from ..host.app import HostConfig

    settings = settings_of(args)
    token = settings.api_token
    auth = host_auth(settings)
    if token and auth is not None:
        raise UsageError(
            "ARKHAM_PACKETS_API_TOKEN and Frame users (ARKHAM_PACKETS_AUTH_*) can't both guard "
            "the host: choose one"
        )
    users_required = auth is not None and settings.require_user is True
    if not is_loopback(settings.host) and not (token or users_required or args.insecure):
        raise UsageError(
            f"refusing to serve on non-loopback address {settings.host} without "
            "ARKHAM_PACKETS_API_TOKEN set, or Frame users with ARKHAM_PACKETS_REQUIRE_USER=true "
            "(or pass --insecure)"
        )
    check_data_dir(settings.standalone_data_dir, settings.data_dir_mode)
    return HostConfig(
        data_dir=settings.standalone_data_dir,
        database_url=settings.standalone_database_url,
        api_token=token,
        auth=auth,
        public_base_url=settings.public_base_url,
        data_dir_mode=settings.data_dir_mode,
    )


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from ..host.app import create_app

    config = host_config(args)
    host, port = (settings := settings_of(args)).host, settings.port
    check_port_free(host, port)
    check_database(config.resolved_database_url, config.modes.file)
    check_store(config)
    print(banner(config, host, port), flush=True)
    uvicorn.run(create_app(config), host=host, port=port, log_level=args.log_level)


def db_upgrade(args: argparse.Namespace) -> int:
    """Migrates the installation's database (only its database: `--data-dir` matters when it
    holds the database)."""
    from ..db.engine import create_engine
    from ..db.migrate import current_revision, upgrade

    settings = settings_of(args)
    modes = FileModes(settings.data_dir_mode)

    async def work() -> int:
        await require_installation(settings, uses_data_dir=False)
        engine = create_engine(settings.standalone_database_url, file_mode=modes.file)
        try:
            await upgrade(engine)
            revision = await current_revision(engine)
        finally:
            await engine.dispose()
        print(f"database at revision {revision}")
        return 0

    return run(work)


def add_serve_command(commands: Any) -> None:
    serving = add_command(
        commands, "serve", "run the standalone host (the packets API and its docs) until Ctrl-C"
    )
    serving.add_argument(
        "--host",
        default=None,
        help="the address to listen on; one other than loopback needs ARKHAM_PACKETS_API_TOKEN, "
        "Frame users with ARKHAM_PACKETS_REQUIRE_USER=true, or --insecure (default: "
        "ARKHAM_PACKETS_HOST, else 127.0.0.1)",
    )
    serving.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"the port to listen on (default: ARKHAM_PACKETS_PORT, else {DEFAULT_PORT})",
    )
    add_database_options(serving)
    serving.add_argument(
        "--insecure",
        action="store_true",
        help="allow an address other than loopback without a token or users",
    )
    serving.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="how much the server logs",
    )
    serving.add_argument(
        "--public-base-url",
        default=None,
        metavar="URL",
        help="where people reach the server, such as https://evidence.example.org: makes "
        "share links absolute (default: ARKHAM_PACKETS_PUBLIC_BASE_URL, else paths)",
    )
    serving.set_defaults(handler=serve)


def add_db_commands(commands: Any) -> None:
    db = add_command(commands, "db", "database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    migrate = add_command(db_commands, "upgrade", "apply the schema migrations, then exit")
    add_database_options(migrate)
    migrate.set_defaults(handler=db_upgrade)


def imported_to_add(module: str, adds: str) -> Callable[[Any], None]:
    """The function `adds` of this package's `module`, which is imported only when it is called."""

    def add(commands: Any) -> None:
        getattr(importlib.import_module(f".{module}", __package__), adds)(commands)

    return add


# Each command with the function that adds it (and those beside it in its module), in the order
# help lists them. A module of commands is imported only to run one of them or to list them all:
# the client commands bring httpx, the bundle commands the bundle format.
COMMANDS: tuple[tuple[tuple[str, ...], Callable[[Any], None]], ...] = (
    (("serve",), add_serve_command),
    (("init",), add_init_command),
    (("db",), add_db_commands),
    (("export", "import", "verify"), imported_to_add("bundles", "add_bundle_commands")),
    (("token",), add_user_commands),
    (("keys",), imported_to_add("keys", "add_key_commands")),
    (("seals",), imported_to_add("seals", "add_seal_commands")),
    (("store",), imported_to_add("store", "add_store_commands")),
    (
        ("push", "pull", "ls", "show", "finalize", "share"),
        imported_to_add("client_commands", "add_client_commands"),
    ),
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command; or, when `command` names one, only it and those its module adds; or none
    for `--version`, which answers before any command is read."""
    parser = argparse.ArgumentParser(
        prog="arkham-packets", description=__doc__, formatter_class=Help
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="its version"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if command != "--version":
        named = [adds for names, adds in COMMANDS if command in names]
        for adds in named or [adds for _, adds in COMMANDS]:
            adds(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    with ending_quietly_on_a_closed_pipe():
        return command_status(argv)


def command_status(argv: list[str] | None) -> int:
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(words[0] if words else None).parse_args(words)
    try:
        status = args.handler(args)
    except (UsageError, UsersUnavailable) as error:
        print(f"arkham-packets: error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:  # a setting (flag or environment variable) is invalid
        for problem in error.errors():
            name = ".".join(str(part) for part in problem["loc"])
            said = str(problem["msg"]).removeprefix("Value error, ")
            setting = f"{name} (ARKHAM_PACKETS_{name.upper()})"
            print(f"arkham-packets: error: {setting}: {said}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
