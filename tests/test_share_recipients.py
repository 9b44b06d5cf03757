"""What a share link's recipient gets: the attached files (as JSON clients and on the viewer
page, with and without a password), whose comments they see, and what an edit link's page
says about editing."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx

from .bundle_helpers import attach
from .conftest import add_item, make_packet, settle
from .share_helpers import PASSWORD_HEADER, access_actions, share

SCAN = b"%PDF-1.7\n" + bytes(range(256)) * 40
LEDGER = b"date,amount\n2024-01-02,17\n"


async def packet_with_attachments(client: httpx.AsyncClient) -> tuple[Any, Any, Any]:
    packet = await make_packet(client, "Harbor leak")
    scan = await add_item(client, packet["id"], "doc-1", content_title="Scan", order=0)
    ledger = await add_item(client, packet["id"], "doc-2", content_title="Ledger", order=1)
    await add_item(client, packet["id"], "ent-1", "entity", content_title="No file", order=2)
    assert (await attach(client, packet["id"], scan["id"], SCAN, "scan é.pdf")).status_code == 200
    sent = await attach(client, packet["id"], ledger["id"], LEDGER, "ledger.csv", "text/csv")
    assert sent.status_code == 200
    sealed = await client.post(f"/api/packets/{packet['id']}/finalize")
    assert sealed.status_code == 200
    return packet, scan, ledger


def file_url(created: Any, entry_id: str) -> str:
    return f"/api/packets/shared/{created['access_token']}/contents/{entry_id}/file"


async def test_a_view_link_downloads_files_and_logs_it(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet, scan, ledger = await packet_with_attachments(client)
    created = await share(client, packet["id"])  # view: the least a link allows
    got = await client.get(file_url(created, scan["id"]))
    assert got.status_code == 200, got.text
    assert got.content == SCAN
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-length"] == str(len(SCAN))
    assert "attachment" in got.headers["content-disposition"]
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["referrer-policy"] == "no-referrer"
    csv = await client.get(file_url(created, ledger["id"]))
    assert (csv.content, csv.headers["content-type"]) == (LEDGER, "text/csv; charset=utf-8")
    opened = (await client.get(f"/api/packets/shared/{created['access_token']}")).json()
    files = {item["id"]: item["file"] for item in opened["contents"]}
    assert files[scan["id"]]["sha256"] == hashlib.sha256(SCAN).hexdigest()
    await settle(client)  # a read is recorded after its answer
    assert await access_actions(engine, created["id"]) == ["download", "download", "read"]
    listed = (await client.get(f"/api/packets/{packet['id']}/shares")).json()
    assert listed[0]["access_count"] == 3

    no_file = await client.get(file_url(created, opened["contents"][2]["id"]))
    assert no_file.status_code == 404
    assert "has no attached file" in no_file.json()["detail"]
    unknown = await client.get(file_url(created, "no-such-entry"))
    assert unknown.status_code == 404
    other = await make_packet(client, "Another")
    foreign = await add_item(client, other["id"], "doc-9")
    await attach(client, other["id"], foreign["id"], b"not yours")
    assert (await client.get(file_url(created, foreign["id"]))).status_code == 404
    assert await access_actions(engine, created["id"]) == ["download", "download", "read"]

    await client.delete(f"/api/packets/{packet['id']}/shares/{created['id']}")
    assert (await client.get(file_url(created, scan["id"]))).status_code == 404


async def test_downloads_follow_the_password_rules(client: httpx.AsyncClient, engine: Any) -> None:
    packet, scan, _ = await packet_with_attachments(client)
    created = await share(client, packet["id"], password="correct horse")
    url = file_url(created, scan["id"])
    missing = await client.get(url)
    assert missing.status_code == 401
    assert "X-Share-Password" in missing.json()["detail"]
    wrong = await client.get(url, headers={PASSWORD_HEADER: "wrong horse"})
    assert wrong.status_code == 401
    right = await client.get(url, headers={PASSWORD_HEADER: "correct horse"})
    assert right.status_code == 200 and right.content == SCAN
    # The viewer page's download button posts the password in a form.
    posted = await client.post(url, data={"password": "correct horse"})
    assert posted.status_code == 200 and posted.content == SCAN
    refused = await client.post(url, data={"password": "wrong horse"})
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("text/html")  # a page for a person
    assert "That password is not right" in refused.text
    extra = await client.post(url, data={"password": "correct horse", "body": "hi"})
    assert extra.status_code == 422
    assert await access_actions(engine, created["id"]) == [
        "password_failure",
        "download",
        "download",
        "password_failure",
    ]


def download_targets(page: str) -> list[str]:
    return re.findall(r'(?:href|action)="(contents/[^"]+/file)"', page)


async def test_the_viewer_page_lists_files_with_size_and_digest(
    client: httpx.AsyncClient,
) -> None:
    packet, scan, ledger = await packet_with_attachments(client)
    created = await share(client, packet["id"])
    page = (await client.get(created["share_url"])).text
    assert "scan é.pdf" in page and "ledger.csv" in page
    assert hashlib.sha256(SCAN).hexdigest() in page
    assert hashlib.sha256(LEDGER).hexdigest() in page
    assert f"10.0 KiB ({len(SCAN):,} bytes)" in page
    assert f"{len(LEDGER)} bytes" in page
    targets = download_targets(page)
    assert targets == [f"contents/{scan['id']}/file", f"contents/{ledger['id']}/file"]
    assert 'href="contents/' in page  # plain links: no password to carry
    base = created["share_url"].removesuffix("view")
    for target in targets:  # relative to the page, they reach the files
        assert (await client.get(base + target)).status_code == 200

    protected = await share(client, packet["id"], password="correct horse")
    signed_in = await client.post(protected["share_url"], data={"password": "correct horse"})
    assert signed_in.status_code == 303
    opened = await client.get(protected["share_url"])  # with the page's session
    assert opened.status_code == 200
    assert download_targets(opened.text) == targets
    # buttons, posted with the page's session: none carries the password
    buttons = 'action="contents/[^"]+/file"><button type="submit">'
    assert len(re.findall(buttons, opened.text)) == 2
    assert "correct horse" not in opened.text
    base = protected["share_url"].removesuffix("view")
    for target in targets:
        assert (await client.post(base + target)).status_code == 200


async def test_recipients_see_only_their_own_links_comments(client: httpx.AsyncClient) -> None:
    packet, _, _ = await packet_with_attachments(client)
    reviewer = await share(client, packet["id"], "rita@example.org", permissions="comment")
    public = await share(client, packet["id"], permissions="comment")
    viewer = await share(client, packet["id"])
    for created, body in ((reviewer, "Page 4 contradicts the manifest."), (public, "Nice.")):
        posted = await client.post(
            f"/api/packets/shared/{created['access_token']}/comments",
            json={"author": "someone", "body": body},
        )
        assert posted.status_code == 201

    def seen(created: Any) -> Any:
        return client.get(f"/api/packets/shared/{created['access_token']}")

    assert [c["body"] for c in (await seen(reviewer)).json()["comments"]] == [
        "Page 4 contradicts the manifest."
    ]
    assert [c["body"] for c in (await seen(public)).json()["comments"]] == ["Nice."]
    assert (await seen(viewer)).json()["comments"] == []
    public_page = (await client.get(public["share_url"])).text
    assert "Nice." in public_page and "contradicts" not in public_page
    assert "other links' comments are not shown here" in public_page
    owner = (await client.get(f"/api/packets/{packet['id']}/comments")).json()
    assert sorted(c["body"] for c in owner["items"]) == [
        "Nice.",
        "Page 4 contradicts the manifest.",
    ]


async def test_an_edit_links_page_says_editing_is_done_through_the_api(
    client: httpx.AsyncClient,
) -> None:
    draft = await make_packet(client, "Draft")
    editor = await share(client, draft["id"], permissions="edit")
    page = (await client.get(editor["share_url"])).text
    assert "Editing through this link" in page
    assert "Editing is done through the API" in page and "/contents</code>" in page
    viewer = await share(client, draft["id"])
    assert "Editing through this link" not in (await client.get(viewer["share_url"])).text
