"""`arkham-packets export`, `import` and `verify`: the same services and bundle code as the API,
against the configured database, with no server running (verify needs no database either)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..bundles.format.disclosure import OpenedDisclosure
from ..bundles.format.evidence import check_carried
from ..bundles.format.verify import open_any
from ..bundles.limits import import_limits
from ..config import Settings
from ..errors import InvalidBundle, PacketsError
from ..models import ExportFormat, MergeMode, PacketImportResult
from ..sealing.custody_coverage import Coverage, Span, coverage_text
from ..sealing.key_trust import KeyTrust, merged, parse_revocations
from ..sealing.signing import UnusableKey, parse_trusted
from .installation import offline_services, run
from .options import UsageError, add_command, add_database_options, bundle_file
from .progress import Meter
from .verdict import TRUSTED_KEYS, describe, describe_disclosure

# The database and the services are imported by the commands that use them, so `verify`
# (no database) and a mistyped command answer without loading them.


def export_command(args: argparse.Namespace) -> int:
    from ..db.scope import Scope

    output = None if args.output is None else Path(args.output)
    if output is not None and output.is_dir():
        raise UsageError(f"{args.output} is a directory: give the name of the file to write")
    output = None if output is None else output.resolve()

    async def work() -> int:
        async with offline_services(args) as services:
            with Meter("export", args.quiet) as bar:
                result = await services.exports.export(
                    Scope(),
                    args.packet_id,
                    ExportFormat(args.format),
                    destination=output,
                    progress=bar,
                )
        report(result.errors, result.warnings)
        print(f"{result.file_path}\n  {result.file_size_bytes} bytes, sha256 {result.sha256}")
        return 0

    return run(work)


def import_command(args: argparse.Namespace) -> int:
    from ..db.scope import Scope

    bundle = bundle_file(args.file).resolve()

    async def work() -> int:
        async with offline_services(args) as services:
            with Meter("import", args.quiet) as bar:
                result = await services.imports.import_file(
                    Scope(),
                    bundle,
                    MergeMode(args.merge_mode),
                    progress=bar,
                    allow_unverified=args.allow_unverified,
                )
        report(result.errors, result.warnings)
        if result.skipped:
            print(f"packet {result.packet_id} already exists: skipped")
        else:
            seal = "verified and sealed" if result.verified else "draft"
            if result.unverified:
                seal = "UNVERIFIED"
            items = plural(result.contents_imported, "item")
            print(f"packet {result.packet_id}: {items} imported ({seal})")
            signer = result.signed_by or "nobody (no seal that checks)"
            if result.signed_by is None and result.verified and result.signature_valid is None:
                signer = "nobody (sealed before signed seals)"
            if result.attested_at is not None:
                signer += f", an attestation made at {result.attested_at}"
            print(f"  signed by {signer}; trusted: {'yes' if result.trusted else 'no'}")
            print(f"  custody chain intact: {'yes' if result.custody_intact else 'no'}")
            print(f"  {coverage_text(coverage_of(result))}")
        return 0

    return run(work)


def trusted_keys(given: list[str], settings: Settings) -> frozenset[str] | None:
    """The keys `verify` trusts: the `--trust` ones and ARKHAM_PACKETS_TRUSTED_KEYS, as the
    server reads that setting. None (after one line on stderr) when one can't be read."""
    for source, entries in (
        ("--trust", given),
        (TRUSTED_KEYS, (settings.trusted_keys or "").split(",")),
    ):
        try:
            parse_trusted(entries)
        except UnusableKey as error:
            print(f"arkham-packets: error: {source} {error}", file=sys.stderr)
            return None
    return parse_trusted([*given, *(settings.trusted_keys or "").split(",")])


def verify_command(args: argparse.Namespace) -> int:
    return verify_bundle(bundle_file(args.file), args.trust, args.revoked, args.quiet)


def verify_bundle(path: Path, trust: list[str], revoked_keys: list[str], quiet: bool) -> int:
    """Offline: no database, no server. Prints every problem; non-zero exit on any, and 3
    when it checks but no trusted key signed it (`pull` verifies what it downloads so too)."""
    settings = Settings()
    trusted = trusted_keys(trust, settings)
    if trusted is None:
        return 2
    try:
        revoked = merged(
            parse_revocations((settings.revoked_keys or "").split(",")),
            parse_revocations(revoked_keys),
        )
    except ValueError as error:
        print(f"arkham-packets: error: revoked keys: {error}", file=sys.stderr)
        return 2
    limits = import_limits(settings)
    with (
        tempfile.TemporaryDirectory(prefix="arkham-verify-") as workdir,
        Meter("verify", quiet) as bar,
    ):
        key_trust = KeyTrust(trusted, revoked)
        try:
            bundle = open_any(path, Path(workdir), limits, bar, key_trust)
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
        print(f"{path}: INVALID ({plural(len(problems), 'problem')})")
        return 1
    if isinstance(bundle, OpenedDisclosure):
        lines, status = describe_disclosure(path, bundle, trust_given=bool(trusted))
        print("\n".join(lines))
        return status
    evidence = check_carried(bundle.document, bundle.carried, key_trust)
    lines, status = describe(path, bundle, evidence, trust_given=bool(trusted))
    print("\n".join(lines))
    return status


def coverage_of(result: PacketImportResult) -> Coverage:
    """Which of the bundle's custody entries its seal's signature covered, from the answer."""
    unproven = result.unproven_entries
    return Coverage(
        result.custody_entries,
        result.covered_entries,
        result.signed_by if result.covered_entries else None,
        result.attested_at is not None,
        None if unproven is None else Span(unproven["first"], unproven["last"]),
        stored=False,
    )


def report(errors: list[str], warnings: list[str]) -> None:
    """On stderr: what could not be exported or imported, then what is worth knowing."""
    for problem in errors:
        print(f"error: {problem}", file=sys.stderr)
    for note in warnings:
        print(f"warning: {note}", file=sys.stderr)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _common(parser: argparse.ArgumentParser, database: bool = True) -> None:
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bar (there is none anyway when stderr is not a terminal)",
    )
    if database:
        add_database_options(parser)


def add_bundle_commands(commands: Any) -> None:
    _add_export(commands)
    _add_import(commands)
    _add_verify(commands)


def _add_export(commands: Any) -> None:
    export = add_command(commands, "export", "export a packet as a bundle, with no server")
    export.add_argument("packet_id", help="the packet's id")
    export.add_argument(
        "--format",
        choices=[f.value for f in ExportFormat],
        default="zip",
        help="BagIt bag in a zip or tar.gz, or one json document",
    )
    export.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the file to write, and nowhere else (default: the store's exports/<name>, "
        "<data-dir>/exports/packet-<id>-v<version>-<export id>.<format> on the local store)",
    )
    _common(export)
    export.set_defaults(handler=export_command)


def _add_import(commands: Any) -> None:
    importer = add_command(
        commands, "import", "check a bundle (zip, tar.gz or json) and import it, with no server"
    )
    importer.add_argument("file", help="the bundle file")
    importer.add_argument(
        "--merge-mode",
        choices=[m.value for m in MergeMode],
        default=MergeMode.REPLACE.value,
        help="what to do when the packet exists (see docs/bundles.md)",
    )
    importer.add_argument(
        "--allow-unverified",
        action="store_true",
        help="import a bundle whose seal or custody chain does not check, marked unverified",
    )
    _common(importer)
    importer.set_defaults(handler=import_command)


def _add_verify(commands: Any) -> None:
    verify = add_command(
        commands,
        "verify",
        "check a bundle offline, with no database (files, checksum, seal, custody log): exit 0 "
        "if valid and signed by a trusted key, 1 if not valid, 2 if unreadable, 3 if valid but "
        f"no key of --trust or {TRUSTED_KEYS} signed it, or its key was revoked before",
    )
    verify.add_argument("file", help="the bundle file")
    verify.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="KEYFILE",
        help="a public key you trust (PEM as `keys export` writes, base64, or a file holding "
        "a sha256: fingerprint); a fingerprint itself works too; repeatable; added to those "
        f"of {TRUSTED_KEYS}",
    )
    verify.add_argument(
        "--revoked",
        action="append",
        default=[],
        metavar="FINGERPRINT@TIME",
        help="a revoked key and when (sha256:<hex>@<ISO 8601 time>, as `keys revoke` prints "
        "it): its seals dated after are not trusted; repeatable, and added to "
        "ARKHAM_PACKETS_REVOKED_KEYS",
    )
    _common(verify, database=False)
    verify.set_defaults(handler=verify_command)
