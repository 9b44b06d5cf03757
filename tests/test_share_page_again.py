"""The share page, used a second time (issue 28, part 3), in a real headless Chromium served by a
live host: items in the order they were added, their data shown; a reload after a comment posts
nothing again; the password is remembered for the link, and forgotten when it is revoked; words
are not broken in narrow columns."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from .live_host import CHROMIUM_FLAGS, require_chromium
from .threaded_host import ThreadedHost

PASSWORD = "correct horse"
SESSION_COOKIE = "packets_link_session"
ITEMS = [  # added in this order, without `order`
    ("evidence_chain", "chain-4", "Payments behind the charter", {"links": 7}),
    ("document", "doc-17", "Bill of lading, port authority copy", {"pages": 2, "source": "port"}),
    ("entity", "ent-9", "Harbor Holdings International", None),
]
# Words the page's prose and cells hold, which a narrow column must not break.
WORDS_CHECKED = "td, dd, dt, h1, h2, p, li"


@pytest.fixture
def browser() -> Iterator[Browser]:
    path = require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def shared_packet(api: str, password: str | None = None, permissions: str = "comment") -> Any:
    """A finalized packet of ITEMS, one with a file, shared by link; answers the share."""
    packet = httpx.post(f"{api}/", json={"name": "Harbor leak"}).json()
    entries = []
    for kind, content_id, title, data in ITEMS:
        body: dict[str, Any] = {
            "content_type": kind,
            "content_id": content_id,
            "content_title": title,
        }
        if data is not None:
            body["data"] = data
        added = httpx.post(f"{api}/{packet['id']}/contents", json=body)
        assert added.status_code == 201, added.text
        entries.append(added.json())
    attached = httpx.put(
        f"{api}/{packet['id']}/contents/{entries[1]['id']}/file",
        files={"file": ("bill-of-lading.pdf", b"%PDF-1.4 bill\n", "application/pdf")},
    )
    assert attached.status_code == 200, attached.text
    assert httpx.post(f"{api}/{packet['id']}/finalize").status_code == 200
    body = {"shared_with": "public", "permissions": permissions}
    if password is not None:
        body["password"] = password
    created = httpx.post(f"{api}/{packet['id']}/share", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def comments_total(api: str, packet_id: str) -> int:
    total: int = httpx.get(f"{api}/{packet_id}/comments").json()["total"]
    return total


def link_cookies(context: BrowserContext) -> list[Any]:
    return [cookie for cookie in context.cookies() if cookie["name"] == SESSION_COOKIE]


def type_password(page: Page, password: str = PASSWORD) -> None:
    page.fill("#password", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Open").click()


def test_items_show_in_the_order_they_were_added_with_their_data(
    page_host: ThreadedHost, browser: Browser
) -> None:
    api = f"{page_host.base}/api/packets"
    created = shared_packet(api)
    contents = httpx.get(f"{api}/{created['packet_id']}/contents").json()
    assert [item["content_id"] for item in contents] == [item[1] for item in ITEMS]
    assert [item["order"] for item in contents] == [0, 1, 2]

    page = browser.new_page()
    page.goto(page_host.base + created["share_url"])
    titles = page.locator('td[data-label="Title"]')
    assert [text.split("\n")[0] for text in titles.all_inner_texts()] == [i[2] for i in ITEMS]
    data = page.locator('td[data-label="Title"] dl.data').all_inner_texts()
    assert [" ".join(text.split()) for text in data] == ["links 7", "pages 2 source port"]
    assert page.locator("dt", has_text="Shared by").count() == 0  # nobody known shared it


def test_a_reload_after_a_comment_posts_nothing_again(
    page_host: ThreadedHost, browser: Browser
) -> None:
    api = f"{page_host.base}/api/packets"
    created = shared_packet(api)
    page = browser.new_page()
    page.goto(page_host.base + created["share_url"])
    page.fill("#author", "Ana")
    page.fill("#body", "Page 2 contradicts the manifest.")
    with page.expect_navigation() as navigated:
        page.get_by_role("button", name="Post comment").click()
    answer = navigated.value
    assert answer is not None and answer.status == 200
    assert answer.request.method == "GET"  # after a 303 to the page
    assert answer.request.redirected_from is not None
    assert answer.request.redirected_from.method == "POST"
    assert page.url.endswith("/view#comments")
    assert page.locator(".comments li").count() == 1
    page.reload()
    page.reload()
    assert page.locator(".comments li").count() == 1
    assert comments_total(api, created["packet_id"]) == 1


def test_the_password_is_remembered_for_the_link_until_it_is_revoked(
    page_host: ThreadedHost, browser: Browser, tmp_path: Path
) -> None:
    api = f"{page_host.base}/api/packets"
    created = shared_packet(api, PASSWORD)
    other = httpx.post(
        f"{api}/{created['packet_id']}/share",
        json={"shared_with": "public", "password": PASSWORD},
    ).json()
    url = page_host.base + created["share_url"]
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    assert page.goto(url).status == 401  # type: ignore[union-attr]
    type_password(page)
    assert page.locator("h1").inner_text() == "Harbor leak"
    (cookie,) = link_cookies(context)
    assert cookie["path"] == f"/api/packets/shared/{created['access_token']}"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert not cookie["secure"]  # plain http here; https sets it (tests/test_share_sessions.py)
    assert 1790 < cookie["expires"] - time.time() <= 1800
    assert PASSWORD not in cookie["value"]

    page.reload()
    assert page.locator("h1").inner_text() == "Harbor leak"
    again = context.new_page()
    assert again.goto(url).status == 200  # type: ignore[union-attr]
    # The file's button posts with the session: no password asked.
    with again.expect_download() as started:
        again.get_by_role("button", name="Download bill-of-lading.pdf").click()
    saved = tmp_path / "bill.pdf"
    started.value.save_as(saved)
    assert saved.read_bytes() == b"%PDF-1.4 bill\n"
    # Another link of the same packet asks for its own password.
    assert again.goto(page_host.base + other["share_url"]).status == 401  # type: ignore[union-attr]

    assert httpx.delete(f"{api}/{created['packet_id']}/shares/{created['id']}").status_code == 204
    page.reload()
    assert page.locator("h1").inner_text() == "Link not found"
    assert link_cookies(context) == []  # forgotten
    context.add_cookies([cookie])  # and refused if it is sent again
    assert page.goto(url).status == 404  # type: ignore[union-attr]
    context.close()

    log = httpx.get(f"{api}/{created['packet_id']}/shares/{created['id']}/access").json()
    assert [entry["action"] for entry in log["items"]] == ["view", "view", "view", "download"]
    assert log["items"][-1]["file"]["name"] == "bill-of-lading.pdf"


# What a narrow column does to words: each word of the page's prose and cells lies on one line.
# Long tokens (codes, file names, a key's fingerprint in a sentence) may break anywhere, and a
# break after a hyphen is where words may break.
BROKEN_WORDS = """(selector) => {
  const broken = [];
  for (const element of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest("code, .token")) continue;
      for (const word of node.textContent.matchAll(/[^\\s\\-]+/g)) {
        if (word[0].length > 30) continue;
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].map((box) => Math.round(box.top)));
        if (lines.size > 1) broken.push(word[0]);
      }
    }
  }
  return broken;
}"""


@pytest.mark.parametrize("width", [320, 390, 700, 1024])
def test_no_word_is_broken_in_a_narrow_column(
    page_host: ThreadedHost, browser: Browser, width: int
) -> None:
    api = f"{page_host.base}/api/packets"
    created = shared_packet(api)
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(page_host.base + created["share_url"])
    assert page.evaluate(BROKEN_WORDS, WORDS_CHECKED) == []
    # long tokens still fit: nothing makes the page wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= width
