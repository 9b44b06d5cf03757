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
