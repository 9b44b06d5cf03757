"""`arkham-packets export`, `import` and `verify`: the same services and bundle code as the API,
against the configured database, with no server running (verify needs no database either)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from ..bundles.format.evidence import check_carried
from ..bundles.format.verify import open_bundle
from ..bundles.limits import import_limits
from ..config import Settings
from ..core.signing import UnusableKey, parse_trusted
from ..errors import InvalidBundle, PacketsError
from ..models import ExportFormat, MergeMode
from .options import add_database_options, settings_of
from .verdict import describe

if TYPE_CHECKING:
    from ..wiring import Services

# The database and the services are imported by the commands that use them, so `verify`
# (no database) and a mistyped command answer without loading them.


@asynccontextmanager
async def offline_services(args: argparse.Namespace) -> AsyncIterator[Services]:
    from ..db.engine import create_engine
    from ..db.schema import ensure_newest
    from ..db.session import Database
    from ..wiring import Services

    settings = settings_of(args)
    data_dir = settings.standalone_data_dir
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    engine = create_engine(
        settings.standalone_database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )
    try:
        await ensure_newest(engine)
        # No Frame bus here: the events stay in the outbox, served by the feed and delivered
        # by the next server process that starts on this database.
        yield Services.build(settings, Database(engine), None, None, data_dir=data_dir)
    finally:
        await engine.dispose()


def progress_bar(args: argparse.Namespace, label: str) -> tqdm[Any]:
    return tqdm(
        desc=label,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=args.quiet,
        file=sys.stderr,
    )


def run(work: Callable[[], Coroutine[Any, Any, int]]) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return asyncio.run(work())
    except PacketsError as error:
        print(f"arkham-packets: error: {error.detail}", file=sys.stderr)
        return 1
    except (OSError, SQLAlchemyError) as error:
        print(f"arkham-packets: error: {error}", file=sys.stderr)
        return 2


def export_command(args: argparse.Namespace) -> int:
    from ..db.scope import Scope

    output = None if args.output is None else Path(args.output).resolve()

    async def work() -> int:
        async with offline_services(args) as services:
            with progress_bar(args, "export") as bar:
                result = await services.exports.export(
                    Scope(),
                    args.packet_id,
                    ExportFormat(args.format),
                    destination=output,
                    progress=bar.update,
                )
        for problem in result.errors:
            print(f"warning: {problem}", file=sys.stderr)
        print(f"{result.file_path}\n  {result.file_size_bytes} bytes, sha256 {result.sha256}")
        return 0

    return run(work)


def import_command(args: argparse.Namespace) -> int:
    from ..db.scope import Scope

    bundle = Path(args.file).resolve()

    async def work() -> int:
        async with offline_services(args) as services:
            with progress_bar(args, "verify") as bar:
                result = await services.imports.import_file(
                    Scope(),
                    bundle,
                    MergeMode(args.merge_mode),
                    progress=bar.update,
                    allow_unverified=args.allow_unverified,
                )
        for problem in result.errors:
            print(f"warning: {problem}", file=sys.stderr)
        if result.skipped:
            print(f"packet {result.packet_id} already exists: skipped")
        else:
            seal = "verified and sealed" if result.verified else "draft"
            if result.unverified:
                seal = "UNVERIFIED"
            print(f"packet {result.packet_id}: {result.contents_imported} items imported ({seal})")
            signer = result.signed_by or "nobody (no seal that checks)"
            print(f"  signed by {signer}; trusted: {'yes' if result.trusted else 'no'}")
            print(f"  custody chain intact: {'yes' if result.custody_intact else 'no'}")
        return 0

    return run(work)


def verify_command(args: argparse.Namespace) -> int:
    """Offline: no database, no server. Prints every problem; non-zero exit on any."""
    path = Path(args.file)
    if not path.is_file():
        print(f"arkham-packets: error: no file at {path}", file=sys.stderr)
        return 2
    try:
        trusted = parse_trusted(args.trust)
    except UnusableKey as error:
        print(f"arkham-packets: error: --trust {error}", file=sys.stderr)
        return 2
    limits = import_limits(Settings())
    with (
        tempfile.TemporaryDirectory(prefix="arkham-verify-") as workdir,
        progress_bar(args, "verify") as bar,
    ):
        try:
            bundle = open_bundle(path, Path(workdir), limits, bar.update)
        except InvalidBundle as error:
            problems = error.problems
        except (PacketsError, OSError) as error:  # e.g. no room to unpack it: not a verdict
            detail = error.detail if isinstance(error, PacketsError) else str(error)
            print(f"arkham-packets: error: {detail}", file=sys.stderr)
            return 2
        else:
            problems = []
    if problems:
        for problem in problems:
            print(f"problem: {problem}")
        print(f"{path}: INVALID ({len(problems)} problem{'s' if len(problems) != 1 else ''})")
        return 1
    evidence = check_carried(bundle.document, bundle.carried, trusted)
    lines, status = describe(path, bundle, evidence, trust_given=bool(args.trust))
    print("\n".join(lines))
    return status


def add_bundle_commands(commands: Any) -> None:
    def common(parser: argparse.ArgumentParser, database: bool = True) -> None:
        parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
        if database:
            add_database_options(parser)

    export = commands.add_parser("export", help="export a packet as a bundle")
    export.add_argument("packet_id")
    export.add_argument("--format", choices=[f.value for f in ExportFormat], default="zip")
    export.add_argument("-o", "--output", help="file to write (default: <data-dir>/exports/...)")
    common(export)
    export.set_defaults(handler=export_command)

    importer = commands.add_parser("import", help="import a bundle (zip, tar.gz or json)")
    importer.add_argument("file")
    importer.add_argument(
        "--merge-mode", choices=[m.value for m in MergeMode], default=MergeMode.REPLACE.value
    )
    importer.add_argument(
        "--allow-unverified",
        action="store_true",
        help="import a bundle whose seal or custody chain does not check, marked unverified",
    )
    common(importer)
    importer.set_defaults(handler=import_command)

    verify = commands.add_parser(
        "verify",
        help="check a bundle offline (files, checksum, seal, custody log); exit 1 if invalid, "
        "3 if no --trust key signed it",
    )
    verify.add_argument("file")
    verify.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="KEYFILE",
        help="a public key you trust (PEM as `keys export` writes, base64, or a file holding "
        "a sha256: fingerprint); a fingerprint itself works too; repeatable",
    )
    common(verify, database=False)
    verify.set_defaults(handler=verify_command)
