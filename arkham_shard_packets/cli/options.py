"""What every command that works on the database without a server needs: where it is."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..config import Settings

DEFAULT_DATA_DIR = "arkham-packets-data"


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", default=os.environ.get("ARKHAM_PACKETS_DATA_DIR", DEFAULT_DATA_DIR)
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="default: ARKHAM_PACKETS_DATABASE_URL, else SQLite in the data dir",
    )


def database_url(args: argparse.Namespace) -> str:
    """As `serve` decides: --database-url, ARKHAM_PACKETS_DATABASE_URL, SQLite in the data dir."""
    default = f"sqlite:///{Path(args.data_dir).resolve() / 'packets.db'}"
    return str(args.database_url or Settings().database_url or default)
