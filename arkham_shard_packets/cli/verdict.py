"""What `arkham-packets verify` says about a bundle whose files and checksum held: who signed
its seal, whether that is a key the caller trusts (`--trust`, ARKHAM_PACKETS_TRUSTED_KEYS),
which custody entries the signature covers and which are the bundle's own account, in plain
words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..bundles.format.disclosure import OpenedDisclosure
from ..bundles.format.verify import VerifiedBundle
from ..core.clock import to_text
from ..sealing.custody_chain import LOG_STARTED
from ..sealing.custody_coverage import bundle_coverage, coverage_text
from ..sealing.evidence import Evidence

VALID, INVALID, UNTRUSTED = 0, 1, 3
TRUSTED_KEYS = "ARKHAM_PACKETS_TRUSTED_KEYS"
TRUST_SOURCES = f"the trusted keys (--trust, {TRUSTED_KEYS})"


@dataclass
class Verdict:
    lines: list[str] = field(default_factory=list)
    proven: list[str] = field(default_factory=list)
    unproven: list[str] = field(default_factory=list)


def _custody(verdict: Verdict, evidence: Evidence, sealed: bool) -> None:
    chain = evidence.chain
    count = f"{chain.length} entr{'y' if chain.length == 1 else 'ies'}"
    first = chain.entry_at(1)
    origin = "from the packet's creation" if chain.from_creation else "(not from its creation)"
    state = "the chain is intact" if chain.intact else "the chain is BROKEN"
    verdict.lines.append(f"  custody: {count} {origin}; {state}; head {chain.head}")
    if first is not None and first["event"] == LOG_STARTED:
        verdict.unproven.append(
            f"the packet's history before {first['at']}: custody recording began then"
        )
    if not chain.intact:
        return
    coverage = bundle_coverage(evidence)
    verdict.lines.append(f"  {coverage_text(coverage)}")
    unproven = coverage.unproven
    if coverage.covered:
        since = "creation" if chain.from_creation else "first recorded entry"
        to = "its seal" if evidence.attested_at is None else "the attestation of its seal"
        verdict.proven.append(
            f"the packet's history from its {since} to {to} (custody {coverage.covered_span}) "
            "is complete and unaltered"
        )
    if unproven is None:
        return
    if coverage.covered:
        why = "the bundle's own account after the seal"
    elif not sealed:
        why = "no signature covers a draft's custody log"
    elif not evidence.signed:
        why = "no signature covers them: the packet was sealed before signed seals"
    else:
        why = "no signature covers them: the seal does not check"
    one = unproven.first == unproven.last
    verdict.unproven.append(
        f"custody {unproven}: {why}; whoever held the bundle could have changed, invented "
        f"or removed {'it' if one else 'any of them'} and recomputed the chain"
    )


def _seal(verdict: Verdict, evidence: Evidence, trust_given: bool, sealed: bool) -> None:
    check = evidence.seal
    if check is None:
        if sealed:
            verdict.lines.append("  seal: not signed (sealed before signed seals)")
            verdict.unproven.append(
                "who sealed the packet, or when: it was sealed before signed seals, and only "
                "its checksum vouches for it"
            )
        return
    if not check.signature_valid:
        verdict.lines.append(f"  seal: names key {check.named_key}; the signature does NOT check")
        verdict.unproven.append("who sealed the packet: its seal's signature does not check")
        return
    if check.attested_at is None:
        verdict.lines.append(f"  seal: signed by {check.named_key}; the signature checks")
        verdict.proven.append(f"the holder of key {check.named_key} signed the seal")
    else:
        verdict.lines.append(
            f"  seal: signed later, by an attestation of {check.named_key} made at "
            f"{check.attested_at}; the signature checks"
        )
        verdict.proven.append(
            f"the holder of key {check.named_key} vouched for the seal at {check.attested_at}"
        )
        verdict.unproven.append(
            "who sealed the packet: the attestation was signed after it was sealed"
        )
    revocation = evidence.revocation
    if revocation is not None:
        revoked = to_text(revocation.revoked_at)
        if not revocation.before:
            verdict.lines.append(f"  key: REVOKED at {revoked}, before this seal was made")
            verdict.unproven.append(
                f"that the seal was made before {check.named_key} was revoked: its holder "
                "may not be the one who signed it"
            )
            return
        verdict.lines.append(f"  key: revoked at {revoked}; the seal is dated before")
        verdict.unproven.append(
            f"that the seal was made before {check.named_key} was revoked: only its "
            "statement dates it"
        )
    if evidence.trusted:
        verdict.lines.append(f"  key: trusted (one of {TRUST_SOURCES})")
        verdict.proven.append(f"{check.named_key} is a key you trust")
    elif trust_given:
        verdict.lines.append(f"  key: NOT trusted (none of {TRUST_SOURCES})")
        verdict.unproven.append(f"that {check.named_key} belongs to anyone you trust")
    else:
        verdict.lines.append("  key: NOT trusted (no key is trusted)")
        verdict.unproven.append(
            f"who holds {check.named_key}: compare it with the fingerprint the sender "
            f"published, and trust it with --trust or {TRUSTED_KEYS}"
        )


def describe(
    path: Path, bundle: VerifiedBundle, evidence: Evidence, trust_given: bool
) -> tuple[list[str], int]:
    """The lines to print and the exit status: 0 all checks hold and a trusted key signed,
    1 something does not check, 3 it checks but no trusted key signed, or its key was revoked
    before the seal was made (`trust_given`: some key is trusted, by --trust or
    ARKHAM_PACKETS_TRUSTED_KEYS)."""
    document = bundle.document
    packet = document.packet
    kind = "json bundle" if bundle.kind == "json" else f"BagIt bag in {bundle.kind}"
    head = "OK" if not evidence.problems else "files and checksum OK"
    verdict = Verdict([f"{path}: {head} ({kind}) packet {packet.id} '{packet.name}'"])
    sealed = bundle.sealed
    state = "sealed, checksum verified" if sealed else "draft, not sealed"
    verdict.lines.append(
        f"  {len(document.contents)} items, {state}; packet checksum {bundle.checksum}"
    )
    verdict.proven.append("every file is as the bag's manifests list it")
    if sealed:
        verdict.proven.append("the packet's content gives the checksum it was sealed with")
    else:
        verdict.unproven.append("who made the packet or that it was ever sealed: it is a draft")
    _seal(verdict, evidence, trust_given, sealed)
    _custody(verdict, evidence, sealed)
    lines = verdict.lines
    lines.extend(f"  proven: {fact}" for fact in verdict.proven)
    lines.extend(f"  not proven: {fact}" for fact in verdict.unproven)
    lines.extend(f"warning: {note}" for note in evidence.warnings)
    if evidence.problems:
        lines.extend(f"problem: {problem}" for problem in evidence.problems)
        count = len(evidence.problems)
        lines.append(f"{path}: INVALID ({count} problem{'s' if count != 1 else ''})")
        return lines, INVALID
    if evidence.revocation is not None and not evidence.revocation.before:
        lines.append(f"{path}: UNTRUSTED (it checks, but its key was revoked before it was made)")
        return lines, UNTRUSTED
    if not evidence.trusted:
        lines.append(f"{path}: UNTRUSTED (it checks, but {_untrusted(evidence, trust_given)})")
        return lines, UNTRUSTED
    return lines, VALID


def _untrusted(evidence: Evidence, trust_given: bool) -> str:
    if evidence.signed_by is None:
        return "no key signed it"
    if trust_given:
        return f"none of {TRUST_SOURCES} signed it"
    return f"no key is trusted: pass --trust or set {TRUSTED_KEYS}"


def describe_disclosure(
    path: Path, opened: OpenedDisclosure, trust_given: bool
) -> tuple[list[str], int]:
    """What a disclosure proves, with the exit status of `describe`."""
    check = opened.check
    kind = "json document" if opened.kind == "json" else f"BagIt bag in {opened.kind}"
    if check.problems:
        lines = [f"{path}: a disclosure ({kind})"]
        lines.extend(f"problem: {problem}" for problem in check.problems)
        count = len(check.problems)
        lines.append(f"{path}: INVALID ({count} problem{'s' if count != 1 else ''})")
        return lines, INVALID
    statement = check.statement
    shown = len(check.items)
    lines = [
        f"{path}: OK (disclosure, {kind}) {shown} of {statement['items_count']} items of "
        f"packet {statement['packet_id']} version {statement['version']}, sealed by "
        f"{check.signed_by}, each proven part of it; their files match",
        f"  items root {statement['items_root']}, sealed at {statement['finalized_at']}",
    ]
    for item in check.items:
        entry = item["entry"]
        named = f"{entry.get('content_type')} {entry.get('content_id')}"
        lines.append(f"  item {item['index']}: {named} '{entry.get('content_title')}'")
    lines.append(
        "  not proven: anything of the packet's other items but that they exist (their number); "
        "its name, description and custody log are not in a disclosure"
    )
    revocation = check.revocation
    if revocation is not None and not revocation.before:
        lines.append(f"{path}: UNTRUSTED (it checks, but its key was revoked before it was made)")
        return lines, UNTRUSTED
    if not check.trusted:
        why = (
            f"none of {TRUST_SOURCES} signed it"
            if trust_given
            else (f"no key is trusted: pass --trust or set {TRUSTED_KEYS}")
        )
        lines.append(f"{path}: UNTRUSTED (it checks, but {why})")
        return lines, UNTRUSTED
    lines.append(f"  key: trusted (one of {TRUST_SOURCES})")
    return lines, VALID
