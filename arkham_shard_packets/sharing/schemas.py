"""Request and response bodies of the sharing routes."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..bundles.disclosure import MAX_ITEMS as MAX_DISCLOSED
from ..core.bounds import UtcInput
from ..models import ShareAction, SharePermission, ShareState
from ..records.examples import Answer
from ..records.schemas import (
    BLANKS,
    NO_NUL,
    NOT_BLANK,
    AnyText,
    ContentOut,
    NotBlankText,
    PacketOut,
    UtcDatetime,
)

# A user id at its longest; an email address has at most 254 characters (RFC 5321).
SHARED_WITH_MAX = 256
PASSWORD_MIN, PASSWORD_MAX = 8, 1024
AUTHOR_MAX, COMMENT_MAX = 200, 10_000
# The largest body a comment can need: every character of the longest author, comment and
# password as a 12-byte escape (a JSON surrogate pair, or a percent-encoded 4-byte character).
COMMENT_BODY_MAX = 12 * (AUTHOR_MAX + COMMENT_MAX + PASSWORD_MAX) + 4096


PUBLIC = "public"
# A plausible address: no spaces or brackets, one @, a domain of dotted labels ending in a
# name of two letters or more (unicode letters welcome: internationalised domains).
_EMAIL = re.compile(
    r"^[^\s@<>()\[\],;:\\\"]{1,64}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}$"
)
# A UUID as the Frame writes its users' ids (any case); braces, `urn:uuid:` or 32 bare hex
# digits may be another system's id, and are kept as sent.
_UUID = re.compile(r"^[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
# What OpenAPI can say of the rule below: blanks around (stripped), none inside, no control
# character. The server refuses the other unprintable characters too.
_CONTROLS = r"\x00-\x1f\x7f-\x9f"
AUDIENCE_PATTERN = rf"^[{BLANKS}]*[^{BLANKS}{_CONTROLS}]+[{BLANKS}]*$"


def _unprintable(value: str) -> str | None:
    for position, char in enumerate(value, 1):
        if char.isspace() or not char.isprintable():
            return f"U+{ord(char):04X} at character {position}"
    return None


def audience(value: str) -> str:
    """`public` (any case), an email address (lower-cased), a Frame user's id (a UUID, in its
    canonical form) or any other user id (kept as sent), so that one audience is always
    stored one way. Blanks around it are already stripped."""
    found = _unprintable(value)
    if found is not None:
        raise ValueError(
            f"has a space or an unprintable character ({found}): must be `public` (anyone "
            "with the link), an email address such as ana@example.org, or a user id such as "
            f"user-123 (1 to {SHARED_WITH_MAX} printable characters, no spaces)"
        )
    if value.lower() == PUBLIC:
        return PUBLIC
    if _UUID.match(value):
        return value.lower()
    if _EMAIL.match(value):
        return value.lower()
    return value


SharedWith = Annotated[
    str,
    Field(
        max_length=SHARED_WITH_MAX,
        description=(
            "Who the link is for: `public` (anyone holding it), an email address, or a user "
            f"id (1 to {SHARED_WITH_MAX} printable characters without spaces or control "
            "characters: a Frame user's UUID, or an id from elsewhere such as `user-123`). "
            "Stored normalised: `PUBLIC` as `public`, an address lower-cased, a UUID in its "
            "canonical form, any other id as sent; blanks around it are dropped. It names the "
            "audience and grants nothing: the token is the only credential."
        ),
        json_schema_extra={"pattern": AUDIENCE_PATTERN},
        examples=["ana@example.org", "user-123", "public"],
    ),
    NotBlankText,
    AfterValidator(audience),
]
Author = Annotated[
    str, Field(max_length=AUTHOR_MAX, json_schema_extra={"pattern": NOT_BLANK}), NotBlankText
]
CommentBody = Annotated[
    str, Field(max_length=COMMENT_MAX, json_schema_extra={"pattern": NOT_BLANK}), NotBlankText
]
ItemId = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
Password = Annotated[
    str,
    Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX, json_schema_extra={"pattern": NO_NUL}),
    AnyText,
]


class ShareCreate(BaseModel):
    # A misspelt field (say `expire_at`) must not silently give a link that never expires.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "shared_with": "ana@example.org",
                    "permissions": "comment",
                    "expires_at": "2099-12-31T18:00:00Z",
                    "password": "correct horse battery",
                },
                {"shared_with": "user-123", "permissions": "view"},
                {"shared_with": "public"},
            ]
        },
    )

    shared_with: SharedWith
    permissions: SharePermission = Field(
        SharePermission.VIEW,
        description="view (default: read, view, download files and the sealed bundle), comment "
        "(and comment), edit (and add or remove items while the packet is a draft)",
    )
    expires_at: UtcInput | None = Field(
        None, description="ISO 8601, in the future; without an offset it is UTC"
    )
    password: Password | None = Field(
        None, description=f"{PASSWORD_MIN} to {PASSWORD_MAX} characters; kept as a scrypt hash"
    )
    item_ids: list[ItemId] | None = Field(
        None,
        min_length=1,
        max_length=MAX_DISCLOSED,
        description="Limit the link to these items (their content entry ids) of the latest "
        "sealed version, whose seal must be of format arkham-packet-seal/2 (else 409): its "
        "page, JSON and files show only them, and its bundle is their disclosure. A view or "
        "comment link only (edit is 422). Omitted: the whole packet",
    )


class ShareFields(Answer):
    model_config = ConfigDict(from_attributes=True)

    id: str
    packet_id: str
    shared_with: str
    permissions: SharePermission
    shared_at: UtcDatetime
    expires_at: UtcDatetime | None
    shared_by: str
    password_protected: bool
    item_ids: list[str] | None = Field(
        None, description="The items a link limited to items shows, in the seal's order"
    )
    items_version: int | None = Field(None, description="The sealed version they are items of")


class ShareCreated(ShareFields):
    access_token: str = Field(description="returned only here, once; the server keeps a digest")
    share_url: str = Field(
        description="The viewer page: an absolute URL when the server has a public base URL "
        "(ARKHAM_PACKETS_PUBLIC_BASE_URL, `serve --public-base-url`), else its path"
    )


class ShareOut(ShareFields):
    state: ShareState
    access_count: int
    last_accessed_at: UtcDatetime | None


class CommentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"author": "Rita (legal)", "body": "Page 4 contradicts the manifest."}]
        },
    )

    author: Author = Field(description="The name to show with the comment")
    body: CommentBody = Field(description=f"The comment, up to {COMMENT_MAX} characters")


class CommentOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    id: str
    packet_id: str
    share_id: str | None
    author: str
    body: str
    created_at: UtcDatetime


class CommentList(Answer):
    packet_id: str
    items: list[CommentOut]
    total: int
    limit: int
    offset: int


class GrantOut(Answer):
    """The share as its recipient sees it: what the link allows and until when."""

    model_config = ConfigDict(from_attributes=True)

    shared_with: str
    shared_by: str
    permissions: SharePermission
    shared_at: UtcDatetime
    expires_at: UtcDatetime | None
    item_ids: list[str] | None = Field(
        None, description="The items this link is limited to (null: the whole packet)"
    )
    items_version: int | None = Field(None, description="The sealed version they are items of")


class SharedPacketOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    packet: PacketOut
    contents: list[ContentOut]
    comments: list[CommentOut] = Field(
        description="A slice of the comments left through this link, oldest first"
    )
    comments_total: int = Field(description="How many comments were left through this link")
    comments_limit: int
    comments_offset: int = Field(description="Where `comments` starts among them all, from 0")
    share: GrantOut


class HandedFileOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    name: str = Field(description="The file's name, as it was handed over")
    sha256: str = Field(description="The SHA-256 of the whole file")
    content_entry_id: str | None = Field(
        description="The item whose attached file it is; null for the sealed bundle"
    )


class AccessEntryOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    id: str
    share_id: str
    action: ShareAction
    accessed_at: UtcDatetime
    client_address: str | None
    file: HandedFileOut | None = Field(
        description="What a `download` or `bundle` handed over (a download of a range names "
        "the whole file); null for other uses, and for downloads logged before the log named "
        "their files (migration 0016)"
    )


class AccessLog(Answer):
    share_id: str
    items: list[AccessEntryOut]
    total: int
    limit: int
    offset: int
