"""The share viewer page: one self-contained HTML document, no scripts, no external assets.

The pages are Jinja2 templates (templates/ beside this module) rendered with autoescaping on:
every value a template prints is escaped, so text that came from a user can't become markup,
and none is ever marked safe (tests/test_share_page_escaping.py fails if a template does). This
module only works out what the page says, as plain values; the templates say how it looks. The
page's Content-Security-Policy forbids scripts anyway, so an escaping slip could not run code.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..core.clock import to_text, utc_text
from ..models import Packet, SharePermission
from ..sealing.custody_coverage import Coverage, coverage_text
from .access import SharedPacket
from .schemas import PUBLIC

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

ALLOWS = {
    SharePermission.VIEW: "viewing this packet",
    SharePermission.COMMENT: "viewing this packet and adding comments",
    SharePermission.EDIT: (
        "viewing, commenting, and adding or removing contents while the packet is a draft"
    ),
}


def file_size(size: int) -> str:
    """`2.4 MiB (2,516,582 bytes)`: binary units, as the byte count is what a digest covers."""
    amount, unit = float(size), "bytes"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if amount < 1024:
            break
        amount, unit = amount / 1024, bigger
    exact = f"{size:,} byte{'' if size == 1 else 's'}"
    return exact if unit == "bytes" else f"{amount:.1f} {unit} ({exact})"


def path_segment(text: str) -> str:
    """`text` as one segment of a relative URL: every character that isn't unreserved is
    percent-encoded, `/` included."""
    return urllib.parse.quote(text, safe="")


def thousands(number: int) -> str:
    return f"{number:,}"


DATA_FIELDS_SHOWN = 20
DATA_VALUE_SHOWN = 300  # characters


def data_fields(data: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An item's `data` as the page lists it: each field's name and value as text (text as it
    is, anything else as JSON), the first fields only, each cut short (the link's JSON and
    bundle carry all of it). The template escapes them as it does all it prints."""
    if not data:
        return []
    fields = []
    for name, value in list(data.items())[:DATA_FIELDS_SHOWN]:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        cut = text if len(text) <= DATA_VALUE_SHOWN else text[: DATA_VALUE_SHOWN - 1] + "…"
        fields.append((name[:DATA_VALUE_SHOWN], cut))
    if len(data) > DATA_FIELDS_SHOWN:
        fields.append(("…", f"and {len(data) - DATA_FIELDS_SHOWN:,} more fields"))
    return fields


# Autoescaping is on for every template, whatever its name; a variable a template names but
# isn't given fails the render rather than printing nothing; a line holding only a tag leaves
# no line in the page. The templates are package data, compiled once at import (a missing one
# fails the import); nothing makes a template from data.
PAGES = Environment(
    loader=PackageLoader(__name__.rpartition(".")[0], "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,
)
PAGES.filters.update(
    iso=to_text,
    utc=utc_text,
    file_size=file_size,
    segment=path_segment,
    thousands=thousands,
    data_fields=data_fields,
)
SHARED_PACKET = PAGES.get_template("shared_packet.html")
ERROR = PAGES.get_template("error.html")

BUNDLE_FORMATS = ("zip", "tar.gz", "json")


@dataclass(frozen=True)
class CommentPages:
    """Which comments of the link are shown, when not all, and the ways to the others: each
    a label and the page's address relative to this one."""

    where: str
    links: list[tuple[str, str]]


def comments_pages(view: SharedPacket) -> CommentPages | None:
    """Which comments are shown, when not all, with the way to the earlier and later ones."""
    shown, total, offset = len(view.comments), view.comments_total, view.comments_offset
    if shown == total:
        return None
    size = view.comments_limit
    where = (
        f"comments {offset + 1:,} to {offset + shown:,} of {total:,}"
        if shown
        else f"no comments from number {offset + 1:,}"
    )
    links = []
    if offset > 0:
        earlier = max(min(offset, total) - size, 0)
        links.append(("Earlier comments", f"view?comments_offset={earlier}"))
    if offset + shown < total:
        later = offset + shown if offset + shown + size < total else None
        links.append(
            ("Later comments", "view" if later is None else f"view?comments_offset={later}")
        )
    return CommentPages(where, links)


@dataclass(frozen=True)
class Origin:
    """An imported packet's import, and what its bundle claims of the packet's making."""

    imported_at: datetime
    source: str
    unverified: bool
    created_at: datetime
    created_by: str


def claimed_making(packet: Packet, details: dict[str, Any]) -> tuple[datetime, str]:
    """When and by whom the import's bundle says the packet was created (an import recorded
    before the entry kept the claim left it on the packet itself)."""
    claimed = details.get("claimed")
    if not isinstance(claimed, dict):
        return packet.created_at, packet.created_by
    try:
        created_at = datetime.fromisoformat(str(claimed.get("created_at")))
    except ValueError:
        created_at = packet.created_at
    return created_at, str(claimed.get("created_by", ""))


def origin_facts(packet: Packet, origin: dict[str, Any] | None) -> Origin | None:
    """For an imported packet: when and from what it was imported, and what the bundle claims
    of its making, shown as a claim (only a seal that checks proves anything about it). People
    of this installation are named on the page by email only, so not the importer."""
    if origin is None:
        return None
    details = origin.get("details") or {}
    created_at, created_by = claimed_making(packet, details)
    return Origin(
        imported_at=datetime.fromisoformat(str(origin["at"])),
        source=str(details.get("source", "a bundle")),
        unverified=bool(details.get("unverified")),
        created_at=created_at,
        created_by=created_by,
    )


def custody_facts(coverage: Coverage | None) -> str | None:
    """How long the custody log is, which of its entries the seal's signature covers, and which
    nothing proves (an imported bundle's own account)."""
    if coverage is None:
        return None
    count = f"{coverage.length} entr{'y' if coverage.length == 1 else 'ies'}"
    text = coverage_text(coverage)
    return f"{count}. {text[:1].upper() + text[1:]}"


def shared_packet_page(view: SharedPacket) -> str:
    """The page; a link with a password reaches it with its session, which its forms send on
    (a cookie), so they carry no password."""
    packet, share = view.packet, view.share
    return SHARED_PACKET.render(
        packet=packet,
        share=share,
        audience="anyone with the link" if share.shared_with == PUBLIC else share.shared_with,
        allows=ALLOWS[share.permissions],
        origin=origin_facts(packet, view.origin),
        seal=view.seal,
        custody=custody_facts(view.custody),
        contents=view.contents,
        protected=share.password_protected,
        bundle_formats=BUNDLE_FORMATS,
        edits=share.permissions is SharePermission.EDIT,
        comments=view.comments,
        comments_total=view.comments_total,
        comment_pages=comments_pages(view),
        can_comment=share.permissions is not SharePermission.VIEW,
    )


ERROR_TITLES = {
    401: "This link needs a password",
    403: "This link does not allow that",
    404: "Link not found",
    409: "The packet refused that",
    410: "This link has expired",
    413: "That was too long",
    422: "Please check what you entered",
    429: "Too many attempts",
    503: "Please try again in a moment",
    507: "The server is out of space",
}


def error_page(status_code: int, detail: str) -> str:
    """A failure as a page; a link that needs a password (401) asks for it."""
    return ERROR.render(
        title=ERROR_TITLES.get(status_code, "Something went wrong"),
        detail=detail[:1].upper() + detail[1:],
        asks_password=status_code == 401,
    )
