"""packet-seal.json: a sealed packet's signed seal, as a tag file at the bag's root (and under
`seal` in the json format), checkable with any Ed25519 library:

    {"statement": {...}, "signature": "<base64>", "public_key": "<base64 of the raw key>",
     "key_fingerprint": "sha256:<hex>"}

The signature covers the statement's canonical JSON bytes (sealing/statement.py). A seal is
stored as it came, so it is held to the bounds of every JSON value the shard stores
(core/bounds.py) before anything is written, whatever the caller accepts.
"""

from __future__ import annotations

from typing import Any

from ...core.bounds import NotJson, OutOfBounds, json_problem, read_json
from ...errors import InvalidBundle
from ...sealing.statement import Seal
from .document import dumps

SEAL_FILE = "packet-seal.json"
MAX_SEAL_BYTES = 64 * 1024


def render_seal(seal: Seal) -> bytes:
    """Sorted keys, two-space indent, UTF-8, newline at the end (as packet.json)."""
    return (dumps(seal.as_json()) + "\n").encode("utf-8")


def parse_seal(value: Any, problems: list[str]) -> Seal | None:
    """A seal from packet-seal.json's bytes or the json format's decoded `seal`; raises
    InvalidBundle for one the shard could not store."""
    if isinstance(value, bytes):
        if len(value) > MAX_SEAL_BYTES:
            problems.append(f"{SEAL_FILE} is larger than {MAX_SEAL_BYTES} bytes")
            return None
        try:
            value = read_json(value, max_bytes=MAX_SEAL_BYTES)
        except NotJson:
            problems.append(f"{SEAL_FILE} is not valid UTF-8 JSON")
            return None
        except OutOfBounds as error:
            raise InvalidBundle([f"{SEAL_FILE}: {error.problem}"]) from None
    else:
        problem = json_problem(value, max_bytes=MAX_SEAL_BYTES)
        if problem is not None:
            raise InvalidBundle([f"the json bundle: {problem.within('seal')}"])
    seal = Seal.from_json(value)
    if seal is None:
        problems.append(
            "the seal does not have exactly statement, signature, public_key and "
            "key_fingerprint (text)"
        )
    return seal
