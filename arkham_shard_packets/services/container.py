"""Everything the routes need, built once per shard from the engine and the Frame's services."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings
from ..db.session import Database
from ..filestore import FileStore
from .attachments import AttachmentService, FileReleaser
from .contents import ContentService
from .events import EventPublisher
from .exports import ExportService
from .imports import ImportService
from .packets import PacketService
from .queries import PacketQueries
from .resolver import ItemResolver
from .unit_of_work import Transactions


@dataclass
class Services:
    settings: Settings
    database: Database
    storage: Any
    packets: PacketService
    contents: ContentService
    queries: PacketQueries
    data_dir: Path
    files: FileStore
    attachments: AttachmentService
    exports: ExportService
    imports: ImportService

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
        transactions = Transactions(database, EventPublisher(bus))
        files = FileStore(data_dir / "files")
        releaser = FileReleaser(transactions, files)
        work_dir = data_dir / "tmp"
        return cls(
            settings=settings,
            database=database,
            storage=storage,
            packets=PacketService(transactions),
            contents=ContentService(transactions, releaser),
            queries=PacketQueries(transactions),
            data_dir=data_dir,
            files=files,
            attachments=AttachmentService(transactions, files, releaser, settings.max_file_bytes),
            exports=ExportService(
                transactions, files, ItemResolver(frame), data_dir / "exports", work_dir
            ),
            imports=ImportService(
                transactions,
                files,
                releaser,
                work_dir,
                settings.import_limits(),
                settings.allowed_import_dirs(data_dir),
            ),
        )
