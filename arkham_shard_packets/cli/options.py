"""What every command shares: its help (every option with its default), one-line usage
errors, and where the database and the data are: a flag wins over the environment
(ARKHAM_PACKETS_DATABASE_URL, ARKHAM_PACKETS_DATA_DIR), which wins over the default."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path
from typing import Any

from ..config import Settings


class UsageError(Exception):
    """Printed as one line, `arkham-packets: error: ...`, with exit status 2."""


class Help(argparse.HelpFormatter):
    """Each option's help ends with its default, unless the text already names it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            not action.option_strings
            or "default" in text
            or action.default in (None, False, argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: %(default)s)"


def add_command(commands: Any, name: str, summary: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=summary, formatter_class=Help
    )
    return parser


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="the data directory (default: ARKHAM_PACKETS_DATA_DIR, else ./arkham-packets-data)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="sqlite:///… or postgresql://… (default: ARKHAM_PACKETS_DATABASE_URL, else "
        "SQLite in the data directory, packets.db)",
    )


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings, with the command's flags (those it has) over the environment."""
    return Settings.with_flags(
        data_dir=args.data_dir,
        database_url=args.database_url,
        public_base_url=getattr(args, "public_base_url", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
    )


def bundle_file(name: str) -> Path:
    """A bundle named on the command line, which must be a readable file."""
    path = Path(name)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise UsageError(f"no such file: {name}") from None
    except OSError as error:  # a name too long, a loop of links, no permission...
        raise UsageError(f"can't read {name}: {error.strerror or error}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{name} is a directory: give a bundle file (.zip, .tar.gz or .json)")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{name} is not a regular file")
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise UsageError(f"can't read {name}: {error.strerror or error}") from None
    return path
