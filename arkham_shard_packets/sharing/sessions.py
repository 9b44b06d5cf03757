"""A share link's password, remembered for a while: the viewer page's session.

Once a person has typed a link's password into its page, the page gives their browser a
session for that link (a cookie, sharing/viewer_routes.py) instead of asking again at every
page. The session is `<expiry>.<mac>`: the moment it ends (Unix seconds) and an HMAC-SHA256,
keyed with the link's stored password hash, of the link's share id and that moment. It never
carries the password; nobody without the stored hash can make one; and it stops working when
it ends, when the link's password is replaced (another hash) and, like the link, when the
link is revoked or expires. It stands in for the password only: the lockout, the pace and
every other check of a use still apply.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

LABEL = b"arkham-packets share link session v1"
SHAPE = re.compile(r"([0-9]{1,12})\.([0-9a-f]{64})")


def _mac(share_id: str, password_hash: str, ends: int) -> str:
    signed = b"\n".join([LABEL, share_id.encode("utf-8"), str(ends).encode("ascii")])
    return hmac.new(password_hash.encode("utf-8"), signed, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LinkSessions:
    lifetime: timedelta

    def issue(self, share_id: str, password_hash: str, now: datetime) -> str:
        ends = int((now + self.lifetime).timestamp())
        return f"{ends}.{_mac(share_id, password_hash, ends)}"

    def admits(self, session: str | None, share_id: str, password_hash: str, now: datetime) -> bool:
        """Whether `session` was issued for this link with its present password, and has not
        ended (nor lasts longer than the lifetime: shortening it ends longer sessions at once).
        Anything else (malformed, forged, too long) is simply not a session."""
        found = None if session is None else SHAPE.fullmatch(session)
        if found is None:
            return False
        ends = int(found[1])
        if not now.timestamp() < ends <= (now + self.lifetime).timestamp():
            return False
        return hmac.compare_digest(found[2], _mac(share_id, password_hash, ends))
