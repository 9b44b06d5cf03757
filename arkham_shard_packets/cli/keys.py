"""`arkham-packets keys list|rotate|revoke|export`: the installation's signing keys, from its
data directory and database, with no server running."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.clock import to_text
from ..errors import NotFound
from ..models import utcnow
from ..sealing.key_trust import parse_time
from ..sealing.signing import KEY_BYTES, public_key_pem, unb64
from .installation import offline_services, run
from .options import UsageError, add_command, add_database_options

if TYPE_CHECKING:
    from ..keys.registry import KeyRecord


NO_KEY_YET = "no signing key yet: the first `serve` (or `init`) makes the installation's key"


def list_command(args: argparse.Namespace) -> int:
    """The registry as it is: listing never makes a key."""

    async def work() -> int:
        async with offline_services(args) as services:
            keys = await services.keyring.recorded()
        if not keys:
            print(NO_KEY_YET, file=sys.stderr)
        for key in keys:
            state = "active " if key.active else "retired"
            line = f"{key.fingerprint}  {key.created_at.isoformat()}  {key.public_key}"
            if key.revoked_at is not None:
                state, line = "revoked", f"{line}  revoked at {to_text(key.revoked_at)}"
            print(f"{state}  {line}")
        return 0

    return run(work)


def rotate_command(args: argparse.Namespace) -> int:
    async def work() -> int:
        # No start-up check here: rotating is how a server whose key is not the active one
        # (a lost key file, a new configured one) makes its key the installation's.
        async with offline_services(args) as services:
            old = [key.fingerprint for key in await services.keyring.listed() if key.active]
            new = await services.keyring.rotate(args.new_key_encryption_key)
        print(f"active key: {new.fingerprint}")
        for fingerprint in old:
            print(f"retired:    {fingerprint} (kept in the registry: its seals still verify)")
        if old:
            print("if a retired key's private key may have leaked: keys revoke FINGERPRINT")
        return 0

    return run(work)


def revoke_command(args: argparse.Namespace) -> int:
    at = utcnow() if args.at is None else revocation_time(args.at)

    async def work() -> int:
        async with offline_services(args) as services:
            key, changed = await services.keyring.revoke(args.fingerprint, at)
        assert key.revoked_at is not None
        revoked = to_text(key.revoked_at)
        if changed:
            print(f"revoked: {key.fingerprint} at {revoked}")
        else:
            print(f"{key.fingerprint} was revoked at {revoked} already: unchanged")
        print("its seals made after that are no longer trusted; those made before still are")
        print(
            "tell those who check your bundles offline: "
            f"verify --revoked {key.fingerprint}@{revoked}, or "
            f"ARKHAM_PACKETS_REVOKED_KEYS={key.fingerprint}@{revoked}"
        )
        return 0

    return run(work)


def revocation_time(text: str) -> datetime:
    moment = parse_time(text)
    if moment is None:
        raise UsageError(f"--at {text!r} is not an ISO 8601 time (2026-01-31T12:00:00+00:00)")
    return moment


def export_command(args: argparse.Namespace) -> int:
    chosen: list[KeyRecord] = []

    async def work() -> int:
        async with offline_services(args) as services:
            keys = await services.keyring.recorded()
        wanted = args.fingerprint
        chosen.extend(k for k in keys if (k.fingerprint == wanted if wanted else k.active))
        if not chosen:
            raise NotFound(
                f"no key {wanted} in this installation's registry" if wanted else NO_KEY_YET
            )
        return 0

    status = run(work)
    if status:
        return status
    raw = unb64(chosen[0].public_key, KEY_BYTES)
    assert raw is not None
    pem = public_key_pem(raw)
    if args.output:
        Path(args.output).write_text(pem, encoding="ascii")
    else:
        sys.stdout.write(pem)
    print(chosen[0].fingerprint, file=sys.stderr)
    return 0


def add_key_commands(commands: Any) -> None:
    keys = add_command(
        commands, "keys", "the installation's signing keys: list, rotate, revoke, export"
    )
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    listing = add_command(key_commands, "list", "every key seals were signed with")
    listing.set_defaults(handler=list_command)
    rotate = add_command(
        key_commands,
        "rotate",
        "a new active key; the old one stays listed so its seals still verify",
    )
    rotate.add_argument(
        "--new-key-encryption-key",
        action="store_true",
        help="ARKHAM_PACKETS_KEY_ENCRYPTION_KEY is set to a new key-encryption key: the new "
        "signing key is kept with it, and servers given the old one refuse to sign until "
        "given the new one",
    )
    rotate.set_defaults(handler=rotate_command)
    revoke = add_command(
        key_commands,
        "revoke",
        "a retired key whose private key may have leaked: its seals made after the revocation "
        "are no longer trusted (the active key can't be: rotate first)",
    )
    revoke.add_argument("fingerprint", help="sha256:<hex>, as `keys list` shows it")
    revoke.add_argument(
        "--at",
        default=None,
        metavar="ISO-TIME",
        help="from when (now or earlier; without an offset, UTC) (default: now)",
    )
    revoke.set_defaults(handler=revoke_command)
    export = add_command(
        key_commands,
        "export",
        "a public key as PEM, for `verify --trust` (default: the active key)",
    )
    export.add_argument(
        "fingerprint", nargs="?", default=None, help="sha256:<hex> (default: the active key)"
    )
    export.add_argument(
        "-o", "--output", default=None, help="file to write (default: standard output)"
    )
    export.set_defaults(handler=export_command)
    for parser in (listing, rotate, revoke, export):
        add_database_options(parser)
