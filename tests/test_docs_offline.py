"""The interactive docs of the standalone host work on a machine without internet: Swagger UI
and ReDoc come from the installed package, and a real Chromium with every other host blocked
renders the operations and executes one."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Route, sync_playwright

from .live_host import CHROMIUM_FLAGS, require_chromium
from .threaded_host import ThreadedHost


def test_home_points_at_the_docs(page_host: ThreadedHost) -> None:
    browser = httpx.get(page_host.base + "/", headers={"accept": "text/html"})
    assert browser.status_code == 307
    assert browser.headers["location"] == "/docs"
    links = httpx.get(page_host.base + "/").json()
    assert links["docs"] == "/docs"
    assert links["packets"] == "/api/packets/"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_name_only_local_assets(page_host: ThreadedHost, page: str) -> None:
    html = httpx.get(page_host.base + page).text
    sources = [part.split('"')[1] for part in html.split("src=")[1:]]
    sources += [part.split('"')[1] for part in html.split("href=")[1:]]
    assert sources, html
    for source in sources:
        assert not urlsplit(source).netloc, f"{page} loads {source} from another host"
        assert httpx.get(page_host.base + source).status_code == 200, source


def test_swagger_ui_renders_and_executes_offline(page_host: ThreadedHost, tmp_path: Path) -> None:
    browser_path = require_chromium()
    local = urlsplit(page_host.base).netloc
    refused: list[str] = []

    def only_this_host(route: Route) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_this_host)
            page.goto(page_host.base + "/docs")
            health = page.locator(".opblock", has_text="/api/packets/health")
            health.wait_for(timeout=30_000)
            assert page.locator(".opblock").count() >= 23
            health.locator(".opblock-summary").click()
            page.get_by_role("button", name="Try it out").click()
            page.get_by_role("button", name="Execute").click()
            answer = health.locator(".live-responses-table tbody .response-col_status").first
            answer.wait_for(timeout=30_000)
            assert answer.inner_text().strip().startswith("200")
            assert '"healthy"' in health.locator(".live-responses-table").inner_text()
        finally:
            browser.close()
    assert refused == []
