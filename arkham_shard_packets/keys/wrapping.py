"""A private key kept in the database: encrypted (wrapped) with the key-encryption key
(`ARKHAM_PACKETS_KEY_ENCRYPTION_KEY`) by AES-256-GCM, bound to its key's fingerprint, and the
check values that tell a server, without decrypting anything or loading cryptography, whether
it holds the right key-encryption key, or the key file of the active key.

A check value is HMAC-SHA256 keyed by the secret over a fixed label: it tells whether two
secrets are equal and nothing else about them.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from ..sealing.signing import KEY_BYTES, UnusableKey, b64, unb64

SCHEME = "aes-256-gcm"
NONCE_BYTES = 12
TAG_BYTES = 16
KEK_LABEL = b"arkham-packets: key-encryption key check"
KEY_LABEL = b"arkham-packets: signing key check"


def check_value(secret: bytes, label: bytes) -> str:
    return hmac.new(secret, label, hashlib.sha256).hexdigest()


def key_check(private_raw: bytes) -> str:
    """The check value of a raw private key: whether a key file holds the active key."""
    return check_value(private_raw, KEY_LABEL)


def same(check: str, other: str) -> bool:
    return hmac.compare_digest(check.encode("ascii"), other.encode("ascii"))


def _associated(fingerprint: str) -> bytes:
    return f"arkham-packets signing key {fingerprint}".encode("ascii")


class KeyEncryption:
    """The installation's key-encryption key (32 bytes, the setting's)."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEY_BYTES:
            raise ValueError("a key-encryption key is 32 bytes")
        self._kek = kek
        self.check = check_value(kek, KEK_LABEL)

    def wrap(self, private_raw: bytes, fingerprint: str) -> str:
        """Loads cryptography. `aes-256-gcm:` and the base64 of a fresh nonce, the ciphertext
        and its tag; the fingerprint is authenticated with it, so a wrapped key moved to
        another key's row does not decrypt."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._kek).encrypt(nonce, private_raw, _associated(fingerprint))
        return f"{SCHEME}:{b64(nonce + sealed)}"

    def unwrap(self, wrapped: str, fingerprint: str) -> bytes:
        """Loads cryptography. The raw private key, or UnusableKey when it does not decrypt
        (another key-encryption key, or a changed row)."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        scheme, _, body = wrapped.partition(":")
        raw = unb64(body, NONCE_BYTES + KEY_BYTES + TAG_BYTES)
        if scheme != SCHEME or raw is None:
            raise UnusableKey(f"the stored private key of {fingerprint} is not {SCHEME} text")
        try:
            return AESGCM(self._kek).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(fingerprint)
            )
        except InvalidTag:
            raise UnusableKey(
                f"the stored private key of {fingerprint} does not decrypt with "
                "ARKHAM_PACKETS_KEY_ENCRYPTION_KEY"
            ) from None
