"""The share viewer page: one self-contained HTML document, no scripts, no external assets.

Every piece of text that came from a user goes through `esc`; the page's Content-Security-Policy
forbids scripts anyway, so an escaping slip could not run code.
"""

from __future__ import annotations

import html
import urllib.parse
from datetime import datetime
from typing import Any

from ..core.clock import to_text, utc_text
from ..models import Packet, PacketContent, SharePermission
from ..sealing.custody_coverage import Coverage, coverage_text
from ..versions.integrity import SealView
from .access import SharedPacket
from .page_style import STYLE
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


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def moment(value: datetime | None, absent: str) -> str:
    if value is None:
        return esc(absent)
    return f'<time datetime="{esc(to_text(value))}">{esc(utc_text(value))}</time>'


def document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def password_field(password: str | None) -> str:
    """A page opened through the password form carries it on to its comment form."""
    if not password:
        return ""
    return f'<input type="hidden" name="password" value="{esc(password)}">'


def file_size(size: int) -> str:
    """`2.4 MiB (2,516,582 bytes)`: binary units, as the byte count is what a digest covers."""
    amount, unit = float(size), "bytes"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if amount < 1024:
            break
        amount, unit = amount / 1024, bigger
    exact = f"{size:,} byte{'' if size == 1 else 's'}"
    return exact if unit == "bytes" else f"{amount:.1f} {unit} ({exact})"


def file_cell(item: PacketContent, protected: bool, password: str | None) -> str:
    """The attached file: a download link (or, on a link with a password, a button whose form
    carries it: a link can't send a header), its size and its SHA-256."""
    file = item.file
    if file is None:
        return "none"
    target = f"contents/{urllib.parse.quote(item.id, safe='')}/file"
    if protected:
        fetch = (
            f'<form class="download" method="post" action="{esc(target)}">'
            f"{password_field(password)}"
            f'<button type="submit">Download {esc(file.name)}</button></form>'
        )
    else:
        fetch = f'<a href="{esc(target)}" download>{esc(file.name)}</a>'
    return (
        f'{fetch}<br><span class="muted">{esc(file_size(file.size))} · '
        f"{esc(file.media_type)}</span><br>SHA-256 <code>{esc(file.sha256)}</code>"
    )


def contents_table(items: list[PacketContent], protected: bool, password: str | None) -> str:
    if not items:
        return "<p>This packet has no contents yet.</p>"
    rows = "\n".join(
        "<tr>"
        f'<td data-label="Order">{esc(item.order)}</td>'
        f'<td data-label="Type">{esc(item.content_type.value.replace("_", " "))}</td>'
        f'<td data-label="Title">{esc(item.content_title) or "<em>untitled</em>"}</td>'
        f'<td data-label="Reference"><code>{esc(item.content_id)}</code></td>'
        f'<td data-label="File">{file_cell(item, protected, password)}</td>'
        f'<td data-label="Added">{moment(item.added_at, "")}</td>'
        "</tr>"
        for item in items
    )
    return (
        '<div class="table-wrap"><table>\n<thead><tr><th scope="col">Order</th>'
        '<th scope="col">Type</th><th scope="col">Title</th><th scope="col">Reference</th>'
        '<th scope="col">File</th><th scope="col">Added</th></tr></thead>\n'
        f"<tbody>\n{rows}\n</tbody></table></div>"
    )


BUNDLE_FORMATS = ("zip", "tar.gz", "json")


def bundle_fetch(kind: str, protected: bool, password: str | None) -> str:
    """A link to the bundle, or on a link with a password a button whose form carries it."""
    target = "bundle" if kind == "zip" else f"bundle?format={kind}"
    if protected:
        return (
            f'<form class="download" method="post" action="{esc(target)}">'
            f'{password_field(password)}<button type="submit">{esc(kind)}</button></form>'
        )
    return f'<a href="{esc(target)}" download>{esc(kind)}</a>'


def bundle_section(packet: Packet, protected: bool, password: str | None) -> str:
    """A sealed packet's bundle, to download and check offline; a draft has none."""
    if packet.checksum is None:
        return ""
    fetches = " · ".join(bundle_fetch(kind, protected, password) for kind in BUNDLE_FORMATS)
    return f"""<section aria-labelledby="bundle">
<h2 id="bundle">Sealed bundle</h2>
<p>The sealed packet as one file to keep: every item and attached file with its checksum,
the signed seal and the custody log. Download it as {fetches}.</p>
<p class="muted">To check it offline: <code>arkham-packets verify FILE --trust KEY</code> (the
shard's command line), with KEY the key fingerprint the sender published, checks every file,
the checksum, the seal's signature and the custody log, and whether that key signed it. Or
unpack it, run <code>python3 -m bagit --validate</code> on its folder, and check the seal as
the shard's docs/custody.md shows (“Checking a seal with any Ed25519 library”) against the key
fingerprint the sender published.</p>
</section>"""


EDITING = """<section aria-labelledby="editing">
<h2 id="editing">Editing through this link</h2>
<p class="notice">This link may add and remove contents while the packet is a draft, but this
page only shows them. Editing is done through the API, with this page's address ending in
<code>/contents</code> instead of <code>/view</code>: <code>POST</code> a JSON item such as
<code>{"content_type": "document", "content_id": "doc-17", "content_title": "Manifest"}</code> to
add one, <code>DELETE …/contents/&lt;entry id&gt;</code> to remove one (a password goes in the
<code>X-Share-Password</code> header). The server's API documentation is at <code>/docs</code>.
</p>
</section>"""


def comments_fetch(label: str, offset: int | None, protected: bool, password: str | None) -> str:
    """A link to other comments of the link (None: the latest), or on a link with a password a
    button whose form carries it."""
    target = "view" if offset is None else f"view?comments_offset={offset}"
    if protected:
        return (
            f'<form class="download" method="post" action="{esc(target)}">'
            f'{password_field(password)}<button type="submit">{esc(label)}</button></form>'
        )
    return f'<a href="{esc(target)}">{esc(label)}</a>'


def comments_pages(view: SharedPacket, password: str | None) -> str:
    """Which comments are shown, when not all, with the way to the earlier and later ones."""
    shown, total, offset = len(view.comments), view.comments_total, view.comments_offset
    if shown == total:
        return ""
    protected, size = view.share.password_protected, view.comments_limit
    where = (
        f"comments {offset + 1:,} to {offset + shown:,} of {total:,}"
        if shown
        else f"no comments from number {offset + 1:,}"
    )
    fetches = []
    if offset > 0:
        earlier = max(min(offset, total) - size, 0)
        fetches.append(comments_fetch("Earlier comments", earlier, protected, password))
    if offset + shown < total:
        later = offset + shown if offset + shown + size < total else None
        fetches.append(comments_fetch("Later comments", later, protected, password))
    return f'<p class="muted">Showing {where}. {" · ".join(fetches)}</p>'


def comments_section(view: SharedPacket, can_comment: bool, password: str | None) -> str:
    comments = view.comments
    listed = (
        '<ol class="comments">\n'
        + "\n".join(
            f'<li><p class="meta"><strong>{esc(c.author)}</strong> · '
            f'{moment(c.created_at, "")}</p><p class="body">{esc(c.body)}</p></li>'
            for c in comments
        )
        + "\n</ol>"
        if comments
        else ("<p>No comments yet.</p>" if not view.comments_total else "")
    )
    form = (
        '<h3>Add a comment</h3>\n<form method="post" action="view">\n'
        f"{password_field(password)}\n"
        '<label for="author">Your name</label>\n'
        '<input id="author" name="author" required maxlength="200" autocomplete="name">\n'
        '<label for="body">Comment</label>\n'
        '<textarea id="body" name="body" required maxlength="10000"></textarea>\n'
        '<button type="submit">Post comment</button>\n</form>'
        if can_comment
        else ""
    )
    heading = (
        f'<h2 id="comments">Comments ({view.comments_total:,})</h2>\n<p class="muted">Comments '
        "left through this link, which the packet's owner reads too; other links' comments are "
        "not shown here.</p>"
    )
    pages = comments_pages(view, password)
    return f'<section aria-labelledby="comments">{heading}\n{pages}\n{listed}\n{form}</section>'


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


def origin_facts(packet: Packet, origin: dict[str, Any] | None) -> str:
    """For an imported packet: when and from what it was imported, and what the bundle claims
    of its making, shown as a claim (only a seal that checks proves anything about it). People
    of this installation are named on the page by email only, so not the importer."""
    if origin is None:
        return ""
    details = origin.get("details") or {}
    imported_at = datetime.fromisoformat(str(origin["at"]))
    created_at, created_by = claimed_making(packet, details)
    warning = (
        " <strong>Imported unverified:</strong> its seal or custody log did not check."
        if details.get("unverified")
        else ""
    )
    return (
        f"<dt>Imported</dt><dd>{moment(imported_at, '')} from "
        f"{esc(details.get('source', 'a bundle'))}.{warning}</dd>\n"
        "<dt>Created (as the bundle claims)</dt>"
        f"<dd>{moment(created_at, '')} by {esc(created_by)}: the bundle's own "
        "account, not checked here</dd>"
    )


def seal_facts(seal: SealView | None) -> str:
    """Who sealed the packet (the key's fingerprint) and whether the seal checks."""
    if seal is None:
        return "<dt>Sealed by</dt><dd>not sealed (a draft has no seal)</dd>"
    if seal.key_fingerprint is None:
        key = "not recorded: sealed before signed seals" if seal.checks else "no signed seal"
    else:
        trust = "this installation trusts it" if seal.trusted else "a key not trusted here"
        key = f"key <code>{esc(seal.key_fingerprint)}</code> ({esc(trust)})"
        if seal.revoked is not None:
            key += f"; {esc(seal.revoked)}"
        if seal.attested_at is not None:
            key += f", signed later (attested {esc(seal.attested_at)})"
    if seal.checks and not seal.signed:
        verdict = (
            '<strong class="holds">sealed before signed seals</strong>: the contents match the '
            "checksum they were sealed with; no signature says who sealed them"
        )
    elif seal.checks:
        verdict = (
            '<strong class="holds">checks</strong>: the signature, the custody log up to the '
            "seal and the contents all match"
        )
    else:
        problems = "".join(f"<li>{esc(problem)}</li>" for problem in seal.problems)
        verdict = (
            f'<strong class="broken">does not check</strong><ul class="problems">{problems}</ul>'
        )
    return f"<dt>Sealed by</dt><dd>{key}</dd>\n<dt>Seal</dt><dd>{verdict}</dd>"


def custody_facts(coverage: Coverage | None) -> str:
    """Which entries of the custody log the seal's signature covers, and which nothing proves
    (an imported bundle's own account)."""
    if coverage is None:
        return ""
    count = f"{coverage.length} entr{'y' if coverage.length == 1 else 'ies'}"
    text = coverage_text(coverage)
    return f"<dt>Custody log</dt><dd>{esc(count)}. {esc(text[:1].upper() + text[1:])}.</dd>"


def shared_packet_page(view: SharedPacket, password: str | None = None) -> str:
    packet, share = view.packet, view.share
    audience = "anyone with the link" if share.shared_with == PUBLIC else share.shared_with
    checksum = (
        f"<code>{esc(packet.checksum)}</code>"
        if packet.checksum
        else "not sealed yet (a draft has no checksum)"
    )
    description = (
        f'<p class="description">{esc(packet.description)}</p>' if packet.description else ""
    )
    can_comment = share.permissions is not SharePermission.VIEW
    body = f"""<header>
<p class="kicker">Shared investigation packet</p>
<h1>{esc(packet.name)}</h1>
{description}
</header>
<section aria-label="About this packet and this link">
<dl class="facts">
<dt>Status</dt><dd><span class="status">{esc(packet.status.value)}</span></dd>
<dt>Version</dt><dd>{esc(packet.version)}</dd>
<dt>Checksum (SHA-256)</dt><dd>{checksum}</dd>
{origin_facts(packet, view.origin)}
{seal_facts(view.seal)}
{custody_facts(view.custody)}
<dt>Shared by</dt><dd>{esc(share.shared_by_email or share.shared_by)}</dd>
<dt>Shared with</dt><dd>{esc(audience)}</dd>
<dt>Shared on</dt><dd>{moment(share.shared_at, "")}</dd>
<dt>Link valid until</dt><dd>{moment(share.expires_at, "no expiry date (until revoked)")}</dd>
<dt>This link allows</dt><dd>{esc(ALLOWS[share.permissions])}</dd>
</dl>
</section>
<section aria-labelledby="contents">
<h2 id="contents">Contents ({len(view.contents)})</h2>
{contents_table(view.contents, share.password_protected, password)}
</section>
{bundle_section(packet, share.password_protected, password)}
{EDITING if share.permissions is SharePermission.EDIT else ""}
{comments_section(view, can_comment, password)}
<footer>Packet <code>{esc(packet.id)}</code>. Anyone holding this link
can open this page until it expires or is revoked; do not forward it.</footer>"""
    return document(f"{packet.name} · shared packet", body)


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
    title = ERROR_TITLES.get(status_code, "Something went wrong")
    form = (
        '<form method="post" action="">\n<label for="password">Password</label>\n'
        '<input id="password" name="password" type="password" required '
        'autocomplete="current-password">\n<button type="submit">Open</button>\n</form>'
        if status_code == 401
        else ""
    )
    body = (
        '<p class="kicker">Shared investigation packet</p>\n'
        f"<h1>{esc(title)}</h1>\n"
        f'<p class="notice" role="alert">{esc(detail[:1].upper() + detail[1:])}.</p>\n{form}'
    )
    return document(title, body)
