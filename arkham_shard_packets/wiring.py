"""Everything the routes need, built once per shard from the engine and the Frame's services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from .attachments.service import AttachmentService, FileReleaser
from .bundles.disclosure import DisclosureService
from .bundles.export import ExportService
from .bundles.importer import ImportService
from .bundles.limits import import_limits
from .config import Settings
from .core.file_modes import FileModes
from .core.store import Store
from .core.unit_of_work import Transactions
from .custody.seals import Sealer
from .custody.service import CustodyService
from .db.lease import Lease
from .db.session import Database
from .events.feed import EventFeed
from .events.relay import OutboxRelay
from .frame.resolver import ItemResolver
from .keys.keyring import Keyring
from .keys.trust import TrustedKeys
from .packets.batch import BatchService
from .packets.contents import ContentService
from .packets.queries import PacketQueries
from .packets.service import PacketService
from .packets.tenancy import TenancyService
from .recovery import Recovery
from .sharing.access import ShareAccessService
from .sharing.item_limits import LinkBundles
from .sharing.service import ShareService
from .sharing.uses import UseLog
from .stores import build_store
from .versions.attest import AttestService
from .versions.integrity import IntegrityService
from .versions.service import VersionService


@dataclass
class Services:
    settings: Settings
    database: Database
    storage: Any
    data_dir: Path
    relay: OutboxRelay
    transactions: Transactions
    files: Store  # attached files and export bundles (ARKHAM_PACKETS_STORE)
    packets: PacketService
    contents: ContentService
    queries: PacketQueries
    batch: BatchService
    tenancy: TenancyService
    feed: EventFeed
    versions: VersionService
    integrity: IntegrityService
    attestations: AttestService
    shares: ShareService
    share_access: ShareAccessService
    share_uses: UseLog
    attachments: AttachmentService
    exports: ExportService
    disclosures: DisclosureService
    imports: ImportService
    recovery: Recovery
    keyring: Keyring
    custody: CustodyService

    @classmethod
    def build(
        cls,
        settings: Settings,
        database: Database,
        bus: Any,
        storage: Any,
        *,
        data_dir: Path,
        frame: Any = None,
    ) -> Services:
        relay = OutboxRelay(database, bus, settings.outbox_retry_seconds)
        transactions = Transactions(database, relay)
        files = build_store(settings, data_dir, FileModes(settings.data_dir_mode))
        releaser = FileReleaser(transactions, files)
        uses = UseLog(transactions, settings.outbox_retry_seconds)
        # both work through the transactions whose hooks they are, so are given to them after
        transactions.hook(release_files=releaser.release_all, write_queued=uses.flush)
        work_dir = data_dir / "tmp"
        keyring = Keyring(transactions, data_dir, settings.signing_key_file, settings.kek)
        trust = TrustedKeys.from_setting(settings.trusted_keys, settings.revoked_keys)
        sealer = Sealer(keyring)
        packets = PacketService(transactions, sealer)
        integrity = IntegrityService(transactions, files, trust)
        exports = ExportService(
            transactions, files, ItemResolver(frame), data_dir / "exports", work_dir
        )
        bundles = LinkBundles(exports, DisclosureService(transactions, files, work_dir))
        return cls(
            settings=settings,
            database=database,
            storage=storage,
            data_dir=data_dir,
            relay=relay,
            transactions=transactions,
            files=files,
            packets=packets,
            contents=ContentService(transactions),
            queries=PacketQueries(transactions),
            batch=BatchService(packets),
            tenancy=TenancyService(transactions),
            feed=EventFeed(transactions, relay),
            versions=VersionService(transactions),
            integrity=integrity,
            attestations=AttestService(transactions, integrity, sealer),
            shares=ShareService(transactions, uses),
            share_access=_share_access(settings, transactions, files, uses, trust, bundles),
            share_uses=uses,
            attachments=AttachmentService(transactions, files, settings.max_file_bytes),
            exports=exports,
            disclosures=bundles.disclosures,
            imports=_imports(settings, transactions, files, data_dir, work_dir, trust),
            recovery=_recovery(settings, database, transactions, files, data_dir, work_dir),
            keyring=keyring,
            custody=CustodyService(transactions, trust),
        )


def _share_access(
    settings: Settings,
    transactions: Transactions,
    files: Store,
    uses: UseLog,
    trust: TrustedKeys,
    bundles: LinkBundles,
) -> ShareAccessService:
    return ShareAccessService(
        transactions,
        files,
        uses,
        timedelta(seconds=settings.share_lockout_seconds),
        settings.share_daily_password_failures,
        trust,
        bundles=bundles,
        uses_per_minute=settings.share_link_uses_per_minute,
        session_lifetime=timedelta(seconds=settings.share_session_seconds),
    )


def _imports(
    settings: Settings,
    transactions: Transactions,
    files: Store,
    data_dir: Path,
    work_dir: Path,
    trust: TrustedKeys,
) -> ImportService:
    return ImportService(
        transactions,
        files,
        work_dir,
        import_limits(settings),
        settings.allowed_import_dirs(data_dir),
        exports_dir=data_dir / "exports",
        data_dir=data_dir,
        trust=trust,
    )


def _recovery(
    settings: Settings,
    database: Database,
    transactions: Transactions,
    files: Store,
    data_dir: Path,
    work_dir: Path,
) -> Recovery:
    return Recovery(
        transactions,
        files,
        Lease(database, f"sweep {files.location}"),  # servers sharing the store share it
        tmp_dir=work_dir,
        exports_dir=data_dir / "exports",
        grace_seconds=settings.recovery_grace_seconds,
        interval_seconds=settings.recovery_sweep_seconds,
    )
