"""Which entries of a custody log a signature covers, and which are an account nothing proves.

A seal's signature (or an attestation's) covers entries 1 to its `custody_length`: they are
the entries that were signed. Nothing covers what follows. In a bundle, every entry after the
seal is the bundle's own account: whoever held it could have changed, invented or removed any
of them and recomputed the chain, so they prove nothing. In a packet's stored log, the entries
an import carried in beyond what the bundle's seal covered stay that bundle's account; the
entries this installation wrote itself are its own record, which no signature covers either.
A draft, a seal made before signed seals and a seal that does not check cover nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .evidence import Evidence


@dataclass(frozen=True)
class Span:
    """Entries `first` to `last` of a log, both included."""

    first: int
    last: int

    def __str__(self) -> str:
        if self.first == self.last:
            return f"entry {self.first}"
        return f"entries {self.first} to {self.last}"


@dataclass(frozen=True)
class Coverage:
    length: int  # entries in the log
    covered: int  # entries 1 to `covered` are covered by a signature that checks (0: none)
    signed_by: str | None  # whose signature that is
    attested: bool  # the signature is an attestation's, made after the seal
    unproven: Span | None  # the account a bundle brought, which no signature covers
    stored: bool  # a log this installation keeps (else a bundle's)

    @property
    def covered_span(self) -> Span | None:
        return Span(1, self.covered) if self.covered else None

    @property
    def recorded_here(self) -> Span | None:
        """In a stored log: the entries this installation wrote after the covered ones and
        the bundle's account."""
        after = max(self.covered, 0 if self.unproven is None else self.unproven.last)
        return Span(after + 1, self.length) if self.stored and after < self.length else None


def bundle_coverage(evidence: Evidence) -> Coverage:
    """A bundle's log: covered up to its seal, the rest its own account."""
    length = evidence.chain.length
    covered = evidence.sealed_length or 0
    return Coverage(
        length,
        covered,
        evidence.signed_by if covered else None,
        evidence.attested_at is not None,
        Span(covered + 1, length) if length > covered else None,
        stored=False,
    )


def stored_coverage(evidence: Evidence) -> Coverage:
    """A stored log: covered up to its seal; the history an import carried in beyond what the
    bundle's seal covered is the bundle's account (a seal that covers no more than the carried
    entries came with the bundle; one made here covers the import's own entry too)."""
    chain = evidence.chain
    covered = evidence.sealed_length or 0
    found = chain.history_import()
    carried = 0 if found is None else found[0] - 1
    vouched = covered if covered <= carried else 0
    return Coverage(
        chain.length,
        covered,
        evidence.signed_by if covered else None,
        evidence.attested_at is not None,
        Span(vouched + 1, carried) if carried > vouched else None,
        stored=True,
    )


def _are(span: Span) -> str:
    return "is" if span.first == span.last else "are"


def coverage_text(coverage: Coverage) -> str:
    """One sentence: which entries a signature covers, and which nothing proves."""
    if coverage.length == 0:
        return "there are no custody entries"
    covered, unproven = coverage.covered_span, coverage.unproven
    parts = []
    if covered is not None:
        signed = "the attestation" if coverage.attested else "the seal"
        parts.append(
            f"custody {covered} {_are(covered)} covered by {signed} signed by {coverage.signed_by}"
        )
    elif unproven is None or unproven.first > 1:
        parts.append("no signature covers any custody entry")
    if unproven is not None:
        whose = (
            "the account an imported bundle brought"
            if coverage.stored
            else ("the bundle's own account")
        )
        named = f"custody {unproven}" if not parts else str(unproven)
        parts.append(f"{named} {_are(unproven)} {whose}, which no signature covers: not proven")
    here = coverage.recorded_here
    if here is not None:
        after = " after the seal" if covered is not None and here.first > covered.last else ""
        parts.append(
            f"{here} {'was' if here.first == here.last else 'were'} recorded here"
            f"{after}, and no signature covers {'it' if here.first == here.last else 'them'}"
        )
    return "; ".join(parts)
