"""The viewer page a share link opens: its content, its escaping, its forms, and how it looks
in a real headless Chromium served by a live host."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal

import bagit
import httpx
from playwright.sync_api import Page, sync_playwright

from .clock import Clock
from .conftest import add_item, make_packet
from .live_host import CHROMIUM_FLAGS, LiveHost, require_chromium
from .share_helpers import PASSWORD_HEADER, finalized_packet, in_seconds, share
from .test_export import unpack
from .threaded_host import ThreadedHost

SCRIPT_TITLE = "Evidence <script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


class PageText(HTMLParser):
    """The text of each element of interest, and every tag name seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            while self._open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._open:
            self.text.setdefault(self._open[-1], []).append(data)

    def joined(self, tag: str) -> str:
        return "".join(self.text.get(tag, []))


def parse(page: str) -> PageText:
    parser = PageText()
    parser.feed(page)
    return parser


async def test_viewer_page_shows_the_packet_and_the_grant(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client, SCRIPT_TITLE, description='He said "<b>no</b>" & left')
    await add_item(client, packet["id"], "doc-9", content_title="<img src=x onerror=alert(2)>")
    await add_item(client, packet["id"], "ent-1", "entity", content_title="Harbor Co.", order=1)
    sealed = (await client.post(f"/api/packets/{packet['id']}/finalize")).json()
    created = await share(client, packet["id"], "ana@example.org", expires_at=in_seconds(3600))

    response = await client.get(created["share_url"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert "<script" not in page and "<img" not in page
    assert ESCAPED_SCRIPT in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;b&gt;no&lt;/b&gt;" in page and "<b>" not in page
    assert "http://" not in page and "https://" not in page  # no external assets
    assert 'name="viewport"' in page
    parsed = parse(page)
    assert parsed.joined("h1") == SCRIPT_TITLE
    assert 'He said "<b>no</b>" & left' in parsed.joined("p")  # read back as the text it is
    assert sealed["checksum"] in parsed.joined("code")
    cells = parsed.joined("td")
    assert cells.index("<img src=x onerror=alert(2)>") < cells.index("Harbor Co.")  # by order
    facts = parsed.joined("dd")
    assert "ana@example.org" in facts
    # who shared it, when known: an anonymous caller of the standalone host is not anyone
    assert "Shared by" not in parsed.joined("dt") and "system" not in facts
    assert parsed.joined("span") == "shared"
    expires = datetime.fromisoformat(created["expires_at"]).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert expires in parsed.joined("time")
    assert "viewing this packet" in facts
    assert "form" not in parsed.tags  # a view-only link offers no comment form


async def test_viewer_form_posts_comments(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], permissions="comment")
    url = created["share_url"]
    page = (await client.get(url)).text
    assert "anyone with the link" in page
    assert "<form" in page and 'name="body"' in page
    posted = await client.post(url, data={"author": "Ray <b>", "body": "Line one\n<i>two</i>"})
    assert (posted.status_code, posted.headers["location"]) == (303, "view#comments")
    shown = (await client.get(url)).text
    assert "Ray &lt;b&gt;" in shown and "Line one\n&lt;i&gt;two&lt;/i&gt;" in shown
    comments = (await client.get(f"/api/packets/{packet['id']}/comments")).json()
    assert [(c["author"], c["body"]) for c in comments["items"]] == [
        ("Ray <b>", "Line one\n<i>two</i>")
    ]
    blank = await client.post(url, data={"author": "Ray", "body": "   "})
    assert blank.status_code == 422
    assert "The comment was not posted (body: must not be blank)" in blank.text

    view_only = await share(client, packet["id"])
    refused = await client.post(view_only["share_url"], data={"author": "a", "body": "b"})
    assert refused.status_code == 403
    assert "This link does not allow that" in refused.text
    assert (await client.get(f"/api/packets/{packet['id']}/comments")).json()["total"] == 1


async def test_an_expired_link_says_when_in_utc(client: httpx.AsyncClient, clock: Clock) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], expires_at=in_seconds(60))
    expires = datetime.fromisoformat(created["expires_at"])
    clock.past(created["expires_at"])
    page = await client.get(created["share_url"])
    assert page.status_code == 410
    said = parse(page.text).joined("p")
    assert f"expired at {expires.strftime('%Y-%m-%d %H:%M:%S')} UTC" in said
    assert "+00:00" not in page.text
    answer = await client.get(created["share_url"].removesuffix("/view"))
    assert answer.json()["detail"] == f"this share link expired at {created['expires_at']}"


async def test_viewer_asks_for_the_password(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client, "Sealed file")
    created = await share(client, packet["id"], permissions="comment", password="correct horse")
    url = created["share_url"]
    asked = await client.get(url)
    assert asked.status_code == 401
    assert 'type="password"' in asked.text and "Sealed file" not in asked.text
    # A person at a browser is told to use the form, never about a header.
    assert "type it below" in parse(asked.text).joined("p")
    assert "header" not in asked.text.lower()
    wrong = await client.post(url, data={"password": "wrong horse"})
    assert wrong.status_code == 401
    assert "That password is not right; try again" in wrong.text
    assert "header" not in wrong.text.lower()
    # JSON clients are told where the password goes.
    missing = await client.get(url.removesuffix("/view"))
    assert missing.json()["detail"] == (
        "this share link needs a password: send it in the X-Share-Password header"
    )
    signed_in = await client.post(url, data={"password": "correct horse"})
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "view")
    opened = await client.get(url)  # the page's session, a cookie, stands in for it
    assert opened.status_code == 200
    assert "Sealed file" in opened.text
    assert 'name="password"' not in opened.text  # no form carries the password
    posted = await client.post(url, data={"author": "Ann", "body": "Seen."})
    assert posted.status_code == 303
    assert "Seen." in (await client.get(url)).text
    client.cookies.clear()
    by_header = await client.get(url, headers={PASSWORD_HEADER: "correct horse"})
    assert by_header.status_code == 200
    with_comment = await client.post(
        url, data={"password": "correct horse", "author": "Ann", "body": "Again."}
    )
    assert (
        with_comment.status_code == 303
        and "packets_link_session" in with_comment.headers["set-cookie"]
    )


# A live host and a real headless Chromium.


def dump_dom(browser: str, url: str, profile: Path) -> str:
    result = subprocess.run(
        [
            browser,
            "--headless",
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=390,844",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "<html" in result.stdout, result.stderr[-2000:]
    return result.stdout


def test_viewer_in_headless_chromium(live_host: LiveHost, tmp_path: Path) -> None:
    browser = require_chromium()
    api = f"{live_host.base}/api/packets"
    packet = httpx.post(f"{api}/", json={"name": SCRIPT_TITLE, "description": "Ledger"}).json()
    for content_id, title, order in (("doc-1", "Bill of lading", 0), ("doc-2", "<b>Memo</b>", 1)):
        added = httpx.post(
            f"{api}/{packet['id']}/contents",
            json={
                "content_type": "document",
                "content_id": content_id,
                "content_title": title,
                "order": order,
            },
        )
        assert added.status_code == 201
    sealed = httpx.post(f"{api}/{packet['id']}/finalize").json()
    lasting = httpx.post(f"{api}/{packet['id']}/share", json={"shared_with": "public"}).json()

    dom = dump_dom(browser, live_host.base + lasting["share_url"], tmp_path / "profile-1")
    page = parse(dom)
    assert page.joined("h1") == SCRIPT_TITLE  # shown as text, not run
    assert "script" not in page.tags and ESCAPED_SCRIPT in dom
    assert page.joined("title").startswith(SCRIPT_TITLE)
    cells = page.joined("td")
    assert cells.index("Bill of lading") < cells.index("<b>Memo</b>")
    assert "b" not in page.tags
    assert sealed["checksum"] in page.joined("code")
    assert "anyone with the link" in page.joined("dd")
    # The sealed bundle, to download, and how to check it offline.
    assert "Sealed bundle" in page.joined("h2")
    assert '<a href="bundle" download="">zip</a>' in dom
    assert "arkham-packets verify FILE --trust KEY" in page.joined("code")
    assert "python3 -m bagit --validate" in page.joined("code")

    # made after the first page, so a slow browser start can't expire it early
    brief = httpx.post(
        f"{api}/{packet['id']}/share",
        json={"shared_with": "ana@example.org", "expires_at": in_seconds(8)},
    ).json()
    assert httpx.get(live_host.base + brief["share_url"]).status_code == 200
    expires = datetime.fromisoformat(brief["expires_at"])
    time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 0.3)
    expired_dom = dump_dom(browser, live_host.base + brief["share_url"], tmp_path / "profile-2")
    expired = parse(expired_dom)
    assert expired.joined("h1") == "This link has expired"
    assert f"expired at {expires.strftime('%Y-%m-%d %H:%M:%S')} UTC" in expired.joined("p")
    assert "Bill of lading" not in expired_dom

    # The server's own log lines (uvicorn's access log) name the paths, never the tokens.
    live_host.stop()
    assert "/api/packets/shared/<redacted>/view" in live_host.output
    for token in (lasting["access_token"], brief["access_token"]):
        assert token not in live_host.output


def save_bundle(page: Page, role: Literal["link", "button"], target: Path) -> Path:
    """Clicks the sealed bundle's zip link (or button, which posts the password) as a person
    would, and keeps the download under the name the server gave it."""
    section = page.locator('section[aria-labelledby="bundle"]')
    with page.expect_download() as started:
        section.get_by_role(role, name="zip", exact=True).click()
    download = started.value
    saved = target / download.suggested_filename
    download.save_as(saved)
    return saved


def test_a_recipient_downloads_the_sealed_bundle_in_chromium(
    page_host: ThreadedHost, tmp_path: Path
) -> None:
    browser_path = require_chromium()
    api = f"{page_host.base}/api/packets"
    packet = httpx.post(f"{api}/", json={"name": "Harbor ledger"}).json()
    added = httpx.post(
        f"{api}/{packet['id']}/contents",
        json={"content_type": "claim", "content_id": "c-1", "data": {"tons": 120}},
    )
    assert added.status_code == 201
    sealed = httpx.post(f"{api}/{packet['id']}/finalize").json()
    plain = httpx.post(f"{api}/{packet['id']}/share", json={"shared_with": "public"}).json()
    protected = httpx.post(
        f"{api}/{packet['id']}/share",
        json={"shared_with": "ana@example.org", "password": "correct horse"},
    ).json()
    name = f"packet-{packet['id']}-v{sealed['version']}.zip"
    fingerprint = httpx.get(f"{api}/keys").json()["keys"][0]["fingerprint"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(accept_downloads=True)
            page.goto(page_host.base + plain["share_url"])
            by_link = save_bundle(page, "link", tmp_path / "plain")
            page.goto(page_host.base + protected["share_url"])  # asks for the password
            page.fill("#password", "correct horse")
            page.get_by_role("button", name="Open").click()
            page.wait_for_selector("#bundle")
            by_button = save_bundle(page, "button", tmp_path / "protected")
        finally:
            browser.close()

    for saved in (by_link, by_button):
        assert saved.name == name
        bagit.Bag(str(unpack(saved.read_bytes(), "zip", saved.parent / "bag"))).validate()
        checked = subprocess.run(
            [sys.executable, "-m", "arkham_shard_packets.cli", "verify", str(saved)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "ARKHAM_PACKETS_TRUSTED_KEYS": fingerprint},
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "sealed, checksum verified" in checked.stdout
        assert "the signature checks" in checked.stdout
    actions = httpx.get(f"{api}/{packet['id']}/shares/{protected['id']}/access").json()
    assert [entry["action"] for entry in actions["items"]] == ["view", "bundle"]
