"""`arkham-packets seals attest`: sign, after an upgrade, the seals of packets sealed before
signed seals, with the installation's key, against the configured database, with no server.
Each signature is an attestation made now (versions/attest.py), recorded in the packet's
custody log; a packet that does not verify is left unsigned and named."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import PacketsError
from .installation import offline_services, run
from .options import UsageError, add_command, add_database_options

OPERATOR = "system"  # the actor the command line records, as its imports and exports do


def attest_command(args: argparse.Namespace) -> int:
    from ..db.scope import Scope

    if bool(args.packet_ids) == args.all:
        raise UsageError("name the packets to attest, or give --all (not both)")
    wanted = None if args.all else list(dict.fromkeys(args.packet_ids))

    async def work() -> int:
        refused = 0
        async with offline_services(args) as services:
            await services.keyring.prepare()
            unsigned = await services.attestations.unsigned(wanted)
            found = {packet.packet_id for packet in unsigned}
            for missing in [packet_id for packet_id in wanted or () if packet_id not in found]:
                print(f"packet {missing}: not attested: it is not a sealed packet without a seal")
                refused += 1
            if wanted is None and not unsigned:
                print("every sealed packet has a signed seal: nothing to attest")
            for packet in unsigned:
                scope = Scope(tenant_id=packet.tenant_id, actor=OPERATOR, admin=True)
                try:
                    done = await services.attestations.attest(scope, packet.packet_id)
                except PacketsError as error:
                    print(f"packet {packet.packet_id}: not attested: {error.detail}")
                    refused += 1
                    continue
                print(
                    f"packet {done.packet_id} version {done.version}: attested at "
                    f"{done.attested_at} by {done.key_fingerprint} (sealed at "
                    f"{done.finalized_at}; custody entry {done.custody_length})"
                )
        return 1 if refused else 0

    return run(work)


def add_seal_commands(commands: Any) -> None:
    seals = add_command(
        commands, "seals", "signed seals: attest those of packets sealed before signed seals"
    )
    seal_commands = seals.add_subparsers(dest="seals_command", required=True)
    attest = add_command(
        seal_commands,
        "attest",
        "sign the seals of packets sealed before signed seals, as attestations made now "
        "(each recorded in the packet's custody log): exit 0 if every one named was signed, "
        "1 if one was not (it does not verify, has a seal already, or is not sealed)",
    )
    attest.add_argument("packet_ids", nargs="*", metavar="ID", help="the packets to attest")
    attest.add_argument(
        "--all",
        action="store_true",
        help="every sealed packet of every tenant that has no signed seal",
    )
    add_database_options(attest)
    attest.set_defaults(handler=attest_command)
