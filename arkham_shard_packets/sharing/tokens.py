"""Share link secrets: random tokens kept only as SHA-256 digests, and scrypt password hashes.

A leaked database yields digests and salted slow hashes, never a working link or password.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import urllib.parse

TOKEN_BYTES = 32  # 256 bits of randomness; the issue asks for at least 128
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LENGTH = 2**14, 8, 1, 32
SALT_BYTES = 16
SCHEME = "scrypt"
RFC_8187_UTF8 = "utf-8''"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=64 * 2**20
    )


async def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash`, salt and hash in URL-safe base64."""
    salt = secrets.token_bytes(SALT_BYTES)
    derived = await asyncio.to_thread(
        _scrypt, password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LENGTH
    )
    return "$".join(
        [SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(derived)]
    )


async def verify_password(password: str, stored: str) -> bool:
    scheme, n, r, p, salt, expected = stored.split("$")
    if scheme != SCHEME:
        raise ValueError(f"unknown password hash scheme {scheme!r}")
    wanted = base64.urlsafe_b64decode(expected)
    derived = await asyncio.to_thread(
        _scrypt, password, base64.urlsafe_b64decode(salt), int(n), int(r), int(p), len(wanted)
    )
    return hmac.compare_digest(derived, wanted)


def password_from_header(value: str) -> str:
    """A password sent in a header, which carries bytes: its UTF-8 text, or, for clients that
    can send only ASCII, RFC 8187's `UTF-8''<percent-encoded UTF-8>`. Bytes that are not
    UTF-8 are read as Latin-1, as HTTP reads header values."""
    if value[: len(RFC_8187_UTF8)].lower() == RFC_8187_UTF8:
        try:
            return urllib.parse.unquote(value[len(RFC_8187_UTF8) :], errors="strict")
        except UnicodeDecodeError:
            return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value
