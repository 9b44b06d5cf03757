"""`arkham-packets store migrate --to s3`: a local installation's attached files and exports
copied into the bucket the S3 settings name, each read back and checked (moving.py), with a
progress bar. The servers serve on meanwhile; docs/cli.md gives the order of the move."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.file_modes import FileModes
from .bundles import plural
from .installation import offline_services, run
from .options import UsageError, add_command, add_database_options, settings_of
from .progress import Meter, binary_size

if TYPE_CHECKING:
    from ..moving import Moved

MAX_JOBS = 64


def migrate_command(args: argparse.Namespace) -> int:
    from ..moving import StoreMove
    from ..stores import bucket_store
    from ..stores.local import LocalStore

    settings = settings_of(args)
    data_dir = settings.standalone_data_dir
    if not 1 <= args.jobs <= MAX_JOBS:
        raise UsageError(f"--jobs {args.jobs}: give 1 to {MAX_JOBS}")
    if settings.s3_bucket is None:
        raise UsageError(
            "store migrate --to s3 needs the bucket: set ARKHAM_PACKETS_S3_BUCKET (and "
            "ARKHAM_PACKETS_S3_ENDPOINT_URL, _S3_PREFIX, _S3_REGION as the servers will have them)"
        )
    if not data_dir.is_dir():
        raise UsageError(f"no data directory at {data_dir}: nothing to move")

    async def work() -> int:
        modes = FileModes(settings.data_dir_mode)
        target = bucket_store(settings, data_dir, modes)
        try:
            await target.check()
            async with offline_services(args) as services:
                local = LocalStore(data_dir, modes)
                move = StoreMove(services.transactions, local, target, args.jobs)
                plan = await move.plan()
                with Meter("migrate", args.quiet, "objects") as bar:
                    bar.expect(plan.size, len(plan.moves))
                    moved = await move.run(plan, bar)
        finally:
            await target.close()
        return summary(moved, len(plan.moves), target.location, data_dir)

    return run(work)


def summary(moved: Moved, count: int, bucket: str, data_dir: Path) -> int:
    """What the run did, on stdout, each object that failed on stderr; the exit status."""
    print(
        f"copied {moved.copied} of {plural(count, 'object')} "
        f"({binary_size(moved.copied_bytes)}) into {bucket}"
    )
    if moved.present:
        print(
            f"{moved.present} {'was' if moved.present == 1 else 'were'} in the bucket already, "
            f"read back and checked ({binary_size(moved.present_bytes)})"
        )
    if moved.gone:
        print(f"{plural(moved.gone, 'object')} left the data directory meanwhile: not needed")
    if moved.keyed:
        print(
            f"{plural(moved.keyed, 'export')} made before exports were stored now "
            "named by its key in the bucket"
        )
    if moved.outside:
        print(
            f"{plural(moved.outside, 'export')} named by a path outside {data_dir / 'exports'} "
            "(written with export -o, or removed): not moved"
        )
    for key, why in moved.failed:
        print(f"failed: {key}: {why}", file=sys.stderr)
    if moved.stopped is not None:
        print(f"stopped: {moved.stopped}", file=sys.stderr)
        print("run the command again: it copies only what is not in the bucket yet")
        return 1
    if moved.failed:
        print(
            f"{plural(len(moved.failed), 'object')} not moved (above); the rest are in the "
            "bucket: run the command again once dealt with"
        )
        return 1
    print(
        f"every attached file and export of {data_dir} is in the bucket, checked; the local "
        "copies are kept. To switch: ARKHAM_PACKETS_STORE=s3 without "
        "ARKHAM_PACKETS_STORE_FALLBACK on every server, and restart them; then "
        f"{data_dir / 'files'} and {data_dir / 'exports'} may be removed"
    )
    return 0


def add_store_commands(commands: Any) -> None:
    store = add_command(commands, "store", "where attached files and exports are kept")
    store_commands = store.add_subparsers(dest="store_command", required=True, metavar="COMMAND")
    migrate = add_command(
        store_commands,
        "migrate",
        "copy the data directory's attached files and exports into the bucket (the "
        "ARKHAM_PACKETS_S3_* settings), each read back and checked; run again after an "
        "interruption, it copies only what is missing. Servers may run meanwhile; nothing "
        "local is removed",
    )
    migrate.add_argument(
        "--to",
        choices=["s3"],
        required=True,
        help="the store to move into: s3, the bucket (required, no default)",
    )
    migrate.add_argument(
        "--jobs", type=int, default=4, metavar="N", help="objects copied at once (1 to 64)"
    )
    migrate.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bar (there is none anyway when stderr is not a terminal)",
    )
    add_database_options(migrate)
    migrate.set_defaults(handler=migrate_command)
