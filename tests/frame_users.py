"""The stand-in Frame's users in the tests: Frame users of any tenant and role, each calling
with a bearer token made as the Frame's login makes it (host/auth.py)."""

from __future__ import annotations

from arkham_shard_packets.host.auth import FrameUser, HostAuth

TOKEN_SECRET = "the stand-in Frame's token secret, for the tests only"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Users:
    """One user per email, made on first use; by default one analyst per tenant."""

    def __init__(self, auth: HostAuth) -> None:
        self.auth = auth

    def user(self, tenant: str, role: str = "analyst", email: str | None = None) -> FrameUser:
        email = email or f"{role}.{tenant}@example.org"
        known = self.auth.by_email(email)
        if known is not None:
            assert (str(known.tenant_id), known.role) == (tenant, role), email
            return known
        return self.auth.add(
            FrameUser.model_validate({"email": email, "tenant_id": tenant, "role": role})
        )

    def headers(
        self, tenant: str, role: str = "analyst", email: str | None = None
    ) -> dict[str, str]:
        return bearer(self.auth.issue(self.user(tenant, role, email)))


CUSTODY_TENANT = "7c0f3a0e-0000-4000-8000-0000000c0570"


def person(users: Users, name: str) -> tuple[dict[str, str], str]:
    """A named analyst of one shared tenant: the headers to call as them, and their actor id."""
    user = users.user(CUSTODY_TENANT, email=f"{name}@example.org")
    return bearer(users.auth.issue(user)), str(user.id)
