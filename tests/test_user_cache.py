"""Frame users kept by token (frame/user_cache.py), on the standalone host with its stand-in
auth over HTTP: a user is resolved once per token within the lifetime; a deactivated user or a
changed role tells once the lifetime has passed; a token that names no user is resolved every
time; 0 turns the cache off; the cache holds a bounded number of tokens; a token's own expiry
cuts its entry short."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from arkham_shard_packets.api import PREFIX
from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.host.auth import FrameUser, HostAuth

from .clock import Clock
from .frame_users import TOKEN_SECRET, bearer

TENANT = "7c0f3a0e-0000-4000-8000-0000000000d1"
LIFETIME = 30  # the default


class CountingAuth(HostAuth):
    """The stand-in Frame's auth, counting how often each token is resolved."""

    def __init__(self) -> None:
        super().__init__(TOKEN_SECRET)
        self.resolved: Counter[str] = Counter()

    async def user_for_token(self, token: str) -> FrameUser | None:
        self.resolved[token] += 1
        return await super().user_for_token(token)

    def person(self, name: str, role: str = "analyst") -> FrameUser:
        user = FrameUser.model_validate(
            {"email": f"{name}@example.org", "tenant_id": TENANT, "role": role}
        )
        return self.add(user)

    def change(self, user: FrameUser, **fields: object) -> None:
        self.add(user.model_copy(update=fields))


Host = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def host(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Host:
    """A host over `auth`, with the given ARKHAM_PACKETS_USER_CACHE_* settings."""

    @asynccontextmanager
    async def started(auth: HostAuth, **settings: str) -> AsyncIterator[httpx.AsyncClient]:
        for name, value in settings.items():
            monkeypatch.setenv(f"ARKHAM_PACKETS_USER_CACHE_{name.upper()}", value)
        app = create_app(HostConfig(tmp_path / "data", database_url, auth=auth))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=f"http://t{PREFIX}") as c:
                yield c

    return started


async def test_a_user_is_resolved_once_per_token_within_the_lifetime(host: Host) -> None:
    auth = CountingAuth()
    ana, ben = auth.issue(auth.person("ana")), auth.issue(auth.person("ben"))
    async with host(auth) as http:
        made = await http.post("/", json={"name": "Harbor"}, headers=bearer(ana))
        assert made.status_code == 201, made.text
        for _ in range(4):
            assert (await http.get(f"/{made.json()['id']}", headers=bearer(ana))).status_code == 200
            item = {"content_type": "document", "content_id": f"doc-{_}"}
            added = await http.post(
                f"/{made.json()['id']}/contents", json=item, headers=bearer(ana)
            )
            assert added.status_code == 201, added.text
        assert (await http.get("/", headers=bearer(ben))).status_code == 200
    assert auth.resolved == {ana: 1, ben: 1}


async def test_a_deactivated_user_or_a_changed_role_tells_after_the_lifetime(
    host: Host, clock: Clock
) -> None:
    auth = CountingAuth()
    ana_user, ben_user = auth.person("ana"), auth.person("ben")
    ana, ben = bearer(auth.issue(ana_user)), bearer(auth.issue(ben_user))
    async with host(auth) as http:
        assert (await http.post("/", json={"name": "One"}, headers=ana)).status_code == 201
        assert (await http.get("/", headers=ben)).status_code == 200
        auth.change(ana_user, role="viewer")
        auth.change(ben_user, is_active=False)
        clock.advance(LIFETIME - 1)
        assert (await http.post("/", json={"name": "Two"}, headers=ana)).status_code == 201
        assert (await http.get("/", headers=ben)).status_code == 200
        clock.advance(1.01)
        refused = await http.post("/", json={"name": "Three"}, headers=ana)
        assert refused.status_code == 403, refused.text
        assert "has the role 'viewer'" in refused.json()["detail"]
        assert (await http.get("/", headers=ana)).status_code == 200
        gone = await http.get("/", headers=ben)
        assert gone.status_code == 401
        assert "names no active Frame user" in gone.json()["detail"]


async def test_a_token_that_resolves_to_no_user_is_never_kept(host: Host) -> None:
    auth = CountingAuth()
    stranger = FrameUser.model_validate({"email": "new@example.org", "tenant_id": TENANT})
    unknown, garbage = auth.issue(stranger), "not.a-token"
    expired = auth.issue(auth.person("ana"), lifetime_seconds=-60)
    async with host(auth) as http:
        for _ in range(3):
            for token in (unknown, garbage, expired):
                assert (await http.get("/", headers=bearer(token))).status_code == 401
        auth.add(stranger)  # the user exists now: the very next request resolves it
        assert (await http.get("/", headers=bearer(unknown))).status_code == 200
        assert (await http.get("/", headers=bearer(unknown))).status_code == 200
    assert auth.resolved == {unknown: 4, garbage: 3, expired: 3}


async def test_zero_seconds_turns_the_cache_off(host: Host) -> None:
    auth = CountingAuth()
    ana_user = auth.person("ana")
    ana = auth.issue(ana_user)
    async with host(auth, seconds="0") as http:
        for _ in range(3):
            assert (await http.get("/", headers=bearer(ana))).status_code == 200
        auth.change(ana_user, is_active=False)
        assert (await http.get("/", headers=bearer(ana))).status_code == 401
    assert auth.resolved == {ana: 4}


async def test_the_cache_holds_a_bounded_number_of_tokens(host: Host) -> None:
    auth = CountingAuth()
    first, second, third = (auth.issue(auth.person(name)) for name in ("ana", "ben", "cy"))
    async with host(auth, size="2") as http:
        for token in (first, second, first, third, first, third, second):
            assert (await http.get("/", headers=bearer(token))).status_code == 200
        kept = http._transport.app.state.packets_shard.callers.users  # type: ignore[attr-defined]
        assert len(kept) == 2
    # `second`, the least recently used when `third` comes, goes; `first` and `third` stay.
    assert auth.resolved == {first: 1, second: 2, third: 1}


async def test_a_tokens_own_expiry_cuts_its_entry_short(host: Host, clock: Clock) -> None:
    auth = CountingAuth()
    ana = auth.person("ana")
    brief, lasting = auth.issue(ana, lifetime_seconds=5), auth.issue(ana)
    async with host(auth) as http:
        for token in (brief, lasting):
            assert (await http.get("/", headers=bearer(token))).status_code == 200
        clock.advance(6)  # past the brief token's exp on the shard's clock, not the stand-in's
        for token in (brief, lasting):
            assert (await http.get("/", headers=bearer(token))).status_code == 200
    assert auth.resolved == {brief: 2, lasting: 1}


async def test_bad_settings_are_refused(host: Host) -> None:
    for name, value in (("seconds", "-1"), ("seconds", "3601"), ("size", "0")):
        with pytest.raises(ValueError, match=f"user_cache_{name}"):
            async with host(CountingAuth(), **{name: value}):
                pass
