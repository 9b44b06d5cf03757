"""Where the database and the data are, for every command: a flag wins over the environment
(ARKHAM_PACKETS_DATABASE_URL, ARKHAM_PACKETS_DATA_DIR), which wins over the default."""

from __future__ import annotations

import argparse

from ..config import Settings


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help="default: ARKHAM_PACKETS_DATA_DIR, else ./arkham-packets-data",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="default: ARKHAM_PACKETS_DATABASE_URL, else SQLite in the data dir",
    )


def settings_of(args: argparse.Namespace) -> Settings:
    return Settings.with_flags(
        data_dir=args.data_dir,
        database_url=args.database_url,
        public_base_url=getattr(args, "public_base_url", None),
    )
