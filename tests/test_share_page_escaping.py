"""The share viewer page is rendered by autoescaping templates (issue 26, item 6): hostile text
in any field a person can set, or a bundle can bring, shows on the page as the text it is,
never as markup, and a template that marks data safe fails the suite."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest
from fastapi import FastAPI

from arkham_shard_packets.models import (
    AttachedFile,
    ContentType,
    Packet,
    PacketComment,
    PacketContent,
    PacketShare,
    PacketStatus,
    SharePermission,
)
from arkham_shard_packets.sealing.custody_coverage import Coverage, Span
from arkham_shard_packets.sharing import page
from arkham_shard_packets.sharing.access import SharedPacket
from arkham_shard_packets.versions.integrity import SealView

from .bundle_helpers import attach
from .conftest import add_item, make_packet
from .share_helpers import share
from .test_import_hostile import draft_document

PACKAGE = Path(page.__file__).parent
TEMPLATES = PACKAGE / "templates"

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
TEMPLATE = "{{ 7*7 }}{% if true %}ran{% endif %}"
QUOTES = "it's \"quoted\" & 'single' </p></dd></td>"
HOSTILE = (SCRIPT, ATTRIBUTE, TEMPLATE, QUOTES)
FILE_NAME = "<img src=x onerror=alert(1)>{{ 7*7 }}.pdf"  # no "/": a file name is its last part

# Every element the page's templates write; markup from data would add others (script, img).
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "footer", "section",
    "p", "h1", "h2", "h3", "dl", "dt", "dd", "span", "strong", "em", "code", "time", "br",
    "div", "table", "thead", "tbody", "tr", "th", "td", "ol", "ul", "li", "a", "form",
    "label", "input", "textarea", "button",
}  # fmt: skip


class Parsed(HTMLParser):
    """Every element with its attributes, and the page's text, as a browser would read them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def values(self, attribute: str) -> list[str | None]:
        return [attrs[attribute] for _, attrs in self.elements if attribute in attrs]


def inert(html: str) -> Parsed:
    """The page holds no element, attribute or URL scheme its templates don't write."""
    parsed = Parsed(html)
    tags = {tag for tag, _ in parsed.elements}
    assert tags <= PAGE_TAGS, tags - PAGE_TAGS
    for tag, attrs in parsed.elements:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "action"):
            assert not (attrs.get(name) or "").lower().startswith(("javascript:", "data:")), attrs
    return parsed


def shown(parsed: Parsed, text: str, times: int = 1) -> None:
    """`text` reads on the page as itself, in full, at least `times` times."""
    assert parsed.text.count(text) >= times, (text, parsed.text)


# Through the app: what a person or a bundle can set.


async def test_hostile_text_a_person_can_set_shows_as_text(client: httpx.AsyncClient) -> None:
    name = " ".join(HOSTILE)
    packet = await make_packet(client, name, description="\n".join(HOSTILE))
    items = [
        await add_item(
            client, packet["id"], text, content_title=text, data={text: [text], "t": text}
        )
        for text in HOSTILE
    ]
    answer = await attach(client, packet["id"], items[0]["id"], b"%PDF-1.4\n", name=FILE_NAME)
    assert answer.status_code == 200, answer.text
    password = ATTRIBUTE + TEMPLATE
    created = await share(
        client, packet["id"], shared_with=SCRIPT, permissions="comment", password=password
    )
    url = created["share_url"]
    for author, body in zip(HOSTILE, reversed(HOSTILE), strict=True):
        posted = await client.post(url, data={"password": password, "author": author, "body": body})
        assert posted.status_code == 303, posted.text

    opened = await client.get(url)  # the page's session (a cookie) stands in for the password
    assert opened.status_code == 200
    parsed = inert(opened.text)
    shown(parsed, f"{name} · shared packet")  # the title
    shown(parsed, name, times=2)  # the title and the heading
    shown(parsed, "\n".join(HOSTILE))  # the description
    for text in HOSTILE:
        # an item's title and reference, its data's field name and text, a comment's author
        # and body; its data's list as JSON, escaped too
        shown(parsed, text, times=6)
        shown(parsed, json.dumps([text]))
    shown(parsed, f"Download {FILE_NAME}")  # a button: a link with a password posts it
    assert "{{ 7*7 }}" in parsed.text and "{% if true %}ran{% endif %}" in parsed.text  # not run
    assert parsed.values("value") == []  # no form carries the password: the session does


async def test_hostile_text_a_bundle_brings_shows_as_text(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    document: dict[str, Any] = await draft_document(client, app)
    document["packet"]["name"] = TEMPLATE
    document["packet"]["description"] = ATTRIBUTE
    document["packet"]["created_by"] = SCRIPT + QUOTES
    upload = f"{TEMPLATE}.json"
    response = await client.post(
        "/api/packets/import", files={"file": (upload, json.dumps(document).encode())}
    )
    assert response.status_code == 201, response.text
    created = await share(client, response.json()["packet_id"])

    parsed = inert((await client.get(created["share_url"])).text)
    shown(parsed, f"by {SCRIPT}{QUOTES}: the bundle's own account")  # the custody claim
    shown(parsed, f"from upload:{upload}.")
    shown(parsed, TEMPLATE, times=3)  # the title, the heading, the upload's name
    shown(parsed, ATTRIBUTE)


# The renderer itself, for the facts no request can fill with chosen text (a seal's problems,
# a revoked key's account, an attestation's time, a coverage's signer).


def hostile_view(text: str, permission: SharePermission, protected: bool) -> SharedPacket:
    moment = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    packet = Packet(
        id=text,
        name=text,
        description=text,
        status=PacketStatus.FINALIZED,
        created_by=text,
        checksum=text,
    )
    file = AttachedFile(name=text, media_type=text, size=2048, sha256=text)
    contents = [
        PacketContent(text, text, ContentType.DOCUMENT, text, text, moment, file=file),
        PacketContent(text, text, ContentType.ENTITY, text, "", moment, data={text: text}),
    ]
    return SharedPacket(
        share=PacketShare(
            id=text,
            packet_id=text,
            shared_with=text,
            permissions=permission,
            shared_at=moment,
            shared_by_email=text,
            password_protected=protected,
        ),
        packet=packet,
        contents=contents,
        comments=[PacketComment(text, text, text, text, moment)],
        comments_total=12,
        comments_limit=1,
        comments_offset=5,
        seal=SealView(
            key_fingerprint=text,
            signed_by=text,
            trusted=False,
            checks=False,
            problems=[text, text],
            attested_at=text,
            revoked=text,
        ),
        origin={
            "at": moment.isoformat(),
            "details": {"source": text, "unverified": True, "claimed": {"created_by": text}},
        },
        custody=Coverage(
            length=4, covered=2, signed_by=text, attested=True, unproven=Span(3, 4), stored=False
        ),
    )


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("permission", list(SharePermission))
@pytest.mark.parametrize("protected", [False, True])
def test_every_fact_on_the_page_is_escaped(
    text: str, permission: SharePermission, protected: bool
) -> None:
    parsed = inert(page.shared_packet_page(hostile_view(text, permission, protected)))
    # title, heading, description, checksum, custody claim and source, key, revocation,
    # attestation, two problems, coverage's signer, shared by and with, two items (title,
    # reference, file name, media type, digest; data's field name and value), a comment's
    # author and body, the footer
    shown(parsed, text, times=25)
    # On a link with a password, the three bundle formats and the file are buttons, whose
    # forms the page's session (a cookie) opens: none carries the password.
    assert len(parsed.values("action")) == (4 if protected else 0) + (
        permission is not SharePermission.VIEW
    )
    assert parsed.values("value") == []
    targets = parsed.values("href") + parsed.values("action")
    assert "contents/" + page.path_segment(text) + "/file" in targets  # a path, percent-encoded


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("status", [401, 404, 422, 500])
def test_an_error_page_shows_its_detail_as_text(text: str, status: int) -> None:
    parsed = inert(page.error_page(status, text))
    shown(parsed, text[:1].upper() + text[1:] + ".")


# The templates: autoescaped, strict, and never marking anything safe.

MARKS_SAFE = re.compile(
    r"\|\s*safe\b|\bMarkup\b|\bmarkupsafe\b|{%-?\s*autoescape\b|autoescape\s*=\s*False"
)


def marking_safe(text: str) -> list[str]:
    return MARKS_SAFE.findall(text)


def test_no_template_or_module_marks_data_safe() -> None:
    templates = sorted(TEMPLATES.iterdir())
    assert {path.name for path in templates} >= {"page.html", "shared_packet.html", "error.html"}
    for path in [*templates, *PACKAGE.parent.rglob("*.py")]:
        assert marking_safe(path.read_text()) == [], path


@pytest.mark.parametrize(
    "line",
    [
        "{{ packet.name|safe }}",
        "{{ packet.name | safe }}",
        "{% autoescape false %}{{ packet.name }}{% endautoescape %}",
        "{%- autoescape false %}",
        "from markupsafe import Markup",
        "Markup(text)",
        "Environment(autoescape=False)",
    ],
)
def test_the_scan_catches_data_marked_safe(line: str) -> None:
    assert marking_safe(line)


def test_the_environment_escapes_everything_and_refuses_a_missing_value() -> None:
    assert page.PAGES.autoescape is True
    assert page.PAGES.undefined is jinja2.StrictUndefined
    escaped = page.PAGES.from_string("{{ x }}").render(x=SCRIPT)
    assert escaped == "&lt;script&gt;alert(1)&lt;/script&gt;"
    with pytest.raises(jinja2.UndefinedError, match="'title' is undefined"):
        page.ERROR.render(detail="gone", asks_password=False)
    with pytest.raises(jinja2.UndefinedError):
        page.SHARED_PACKET.render()


def test_the_templates_are_read_from_the_package() -> None:
    """Package data beside the module: a wheel (tests/test_manifest.py) and an editable install
    find them where the package is."""
    for template in (page.ERROR, page.SHARED_PACKET):
        assert template.filename is not None
        assert Path(template.filename).parent == TEMPLATES
