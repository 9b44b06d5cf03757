"""Ed25519 keys: the installation's signing key, public keys, fingerprints, signatures.

A fingerprint is "sha256:" + the hex SHA-256 of the raw 32-byte public key; public keys and
signatures travel as base64. Signing and checking signatures go through `cryptography`, imported
only when a key is first used: its native library costs every process that loads it about
10 MB, and most server processes (exporting, importing drafts) never need it. Writing a new
private key and reading or writing a public key file need no cryptography at all: an Ed25519
private key is 32 random bytes, and both PEM forms are those bytes behind a fixed DER prefix
(RFC 8410).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ALGORITHM = "ed25519"
FINGERPRINT_PREFIX = "sha256:"
FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")
KEY_BYTES = 32
SIGNATURE_BYTES = 64
# RFC 8410: PKCS#8 PrivateKeyInfo and SubjectPublicKeyInfo of an Ed25519 key, up to the key.
PRIVATE_DER_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
PUBLIC_DER_PREFIX = bytes.fromhex("302a300506032b6570032100")
PRIVATE_PEM = "PRIVATE KEY"
PUBLIC_PEM = "PUBLIC KEY"


class UnusableKey(ValueError):
    """A key file or key text that is not a usable Ed25519 key."""


def fingerprint_of(public_key: bytes) -> str:
    return FINGERPRINT_PREFIX + hashlib.sha256(public_key).hexdigest()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unb64(text: object, size: int) -> bytes | None:
    """The bytes of strict base64 text of exactly `size` bytes, else None."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def _pem(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _pem_body(text: str, label: str) -> bytes | None:
    match = re.search(rf"-----BEGIN {label}-----(.*?)-----END {label}-----", text, re.DOTALL)
    if match is None:
        return None
    try:
        return base64.b64decode("".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def new_private_pem() -> bytes:
    """A fresh Ed25519 private key (PKCS#8 PEM, unencrypted): 32 bytes from the OS's CSPRNG."""
    return private_pem(os.urandom(KEY_BYTES))


def private_pem(raw: bytes) -> bytes:
    """The PKCS#8 PEM of the raw 32-byte Ed25519 private key."""
    return _pem(PRIVATE_PEM, PRIVATE_DER_PREFIX + raw).encode("ascii")


def private_raw(pem: bytes) -> bytes | None:
    """The raw 32 bytes of a PKCS#8 Ed25519 private key PEM as `private_pem` (and OpenSSL)
    write it, without loading cryptography; None for any other layout."""
    der = _pem_body(pem.decode("ascii", errors="replace"), PRIVATE_PEM)
    if der is None or len(der) != len(PRIVATE_DER_PREFIX) + KEY_BYTES:
        return None
    return der[len(PRIVATE_DER_PREFIX) :] if der.startswith(PRIVATE_DER_PREFIX) else None


def looks_like_private_pem(data: bytes) -> bool:
    return f"-----BEGIN {PRIVATE_PEM}-----".encode() in data


def public_key_pem(public_key: bytes) -> str:
    return _pem(PUBLIC_PEM, PUBLIC_DER_PREFIX + public_key)


def public_key_from_text(text: str) -> bytes:
    """An Ed25519 public key from a PEM public key file (as `keys export` writes) or the base64
    of its raw 32 bytes (as GET /keys shows)."""
    der = _pem_body(text, PUBLIC_PEM)
    if der is not None:
        if len(der) != len(PUBLIC_DER_PREFIX) + KEY_BYTES or not der.startswith(PUBLIC_DER_PREFIX):
            raise UnusableKey("the PEM public key is not an Ed25519 key")
        return der[len(PUBLIC_DER_PREFIX) :]
    raw = unb64(text.strip(), KEY_BYTES)
    if raw is None:
        raise UnusableKey("neither a PEM public key nor the base64 of a raw 32-byte Ed25519 key")
    return raw


def write_private_key(path: Path, pem: bytes) -> bool:
    """Create `path` (mode 0600, its folder 0700) holding `pem`, unless it exists: written
    beside it, synced, then linked into place, so a racing process never reads half a key.
    True when this call created it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, pem)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temp, path)
        return True
    except FileExistsError:
        return False
    finally:
        temp.unlink(missing_ok=True)


def replace_private_key(path: Path, pem: bytes) -> None:
    """Put a new key at `path` in one step (rotation): readers see the old key or the new."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    if not write_private_key(temp, pem):
        raise FileExistsError(temp)
    os.replace(temp, path)


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    public_key: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.public_key)

    def sign(self, message: bytes) -> str:
        return b64(self.private_key.sign(message))

    def private_bytes(self) -> bytes:
        """The raw 32-byte private key."""
        return self.private_key.private_bytes_raw()


def load_private_key(data: bytes) -> SigningKey:
    """Loads cryptography. Raises UnusableKey for anything but an unencrypted Ed25519 key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise UnusableKey(f"not a readable unencrypted PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UnusableKey("the private key is not an Ed25519 key")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(key, raw)


def signature_checks(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Loads cryptography."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def trusted_fingerprint(entry: str) -> str:
    """A fingerprint (`sha256:<hex>`), or the fingerprint of the public key in a file (PEM as
    `keys export` writes, or the base64 of the raw key as GET /keys shows)."""
    text = entry.strip()
    if FINGERPRINT.match(text.lower()):
        return text.lower()
    try:
        content = Path(text).read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise UnusableKey(
            f"{text!r} is neither a sha256: fingerprint nor a readable key file ({error.strerror})"
        ) from None
    content = content.strip()
    if FINGERPRINT.match(content.lower()):
        return content.lower()
    try:
        return fingerprint_of(public_key_from_text(content))
    except UnusableKey as error:
        raise UnusableKey(f"{text}: {error}") from None


def parse_trusted(entries: Iterable[str]) -> frozenset[str]:
    return frozenset(trusted_fingerprint(entry) for entry in entries if entry.strip())
