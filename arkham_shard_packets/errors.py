"""Domain errors, each with its HTTP status, and the infrastructure failures they stand for.

Services raise these without knowing about HTTP; `routing.PacketsRoute` renders them as
`{"detail": ...}` responses wherever our router is mounted (our host or the real Frame),
because an exception handler on someone else's app is not ours to install.
"""

from __future__ import annotations


class PacketsError(Exception):
    status_code = 400

    def __init__(
        self, detail: str, headers: dict[str, str] | None = None, for_page: str | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        # What a page for a person (the share viewer) says instead, when it differs.
        self.for_page = for_page


class ServiceMissing(PacketsError):
    status_code = 503


class InvalidInput(PacketsError):
    status_code = 422


class NotFound(PacketsError):
    status_code = 404


class PacketNotFound(NotFound):
    def __init__(self, packet_id: str) -> None:
        super().__init__(f"packet {packet_id} not found")


class ContentNotFound(NotFound):
    def __init__(self, packet_id: str, content_entry_id: str) -> None:
        super().__init__(f"content entry {content_entry_id} not found in packet {packet_id}")


class VersionNotFound(NotFound):
    def __init__(self, packet_id: str, version_number: int) -> None:
        super().__init__(f"version {version_number} of packet {packet_id} not found")


class Conflict(PacketsError):
    status_code = 409


class PacketLocked(Conflict):
    """The packet's status forbids the requested change."""


class DuplicateContent(Conflict):
    pass


class StaleVersion(PacketsError):
    """An `If-Match` precondition failed: the packet changed since the caller read it."""

    status_code = 412


class SnapshotDamaged(Conflict):
    """A stored snapshot is missing or no longer matches its digest."""


class Forbidden(PacketsError):
    status_code = 403


class NotAuthenticated(PacketsError):
    """No Frame user where one is required, or a bearer token that resolves to none."""

    status_code = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class ShareNotFound(NotFound):
    pass


class ShareExpired(PacketsError):
    status_code = 410


class PasswordRequired(PacketsError):
    """Missing or wrong share password (the viewer page asks for it in its form, not in a
    header: its `for_page`)."""

    status_code = 401


class TooManyAttempts(PacketsError):
    status_code = 429


class PayloadTooLarge(PacketsError):
    status_code = 413


class RangeNotSatisfiable(PacketsError):
    """A `Range` of none of the file's bytes: past its end, or the last 0 of them."""

    status_code = 416

    def __init__(self, size: int) -> None:
        super().__init__(
            f"the requested range is not within the file's {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )


class InsufficientStorage(PacketsError):
    """The disk (the data directory's or the database's) is full or has too little free space
    left for the work: nothing was changed."""

    status_code = 507


class InvalidBundle(InvalidInput):
    """An import or a verified archive that is unsafe, damaged or inconsistent."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"invalid bundle: {shown}{more}")
        self.problems = problems


class UnverifiedBundle(InvalidBundle):
    """A bundle whose seal or custody chain does not check: refused unless the caller
    explicitly imports it as unverified."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems)
        self.detail = (
            f"unverified bundle: {self.detail.removeprefix('invalid bundle: ')} "
            "(send allow_unverified to import it marked unverified)"
        )


class StoredFileBroken(Conflict):
    """A stored file is missing or no longer hashes to the digest recorded for it: refused as a
    damaged snapshot is (the packet's evidence can't be served as sealed)."""


class DatabaseUnavailable(PacketsError):
    """The database connection was lost or the database can't be reached: nothing was
    written that the client can't see; it may try again."""

    status_code = 503
    RETRY_AFTER = "2"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": self.RETRY_AFTER})


class StoreUnavailable(PacketsError):
    """The store of files (an S3 bucket) can't be reached or refused the request: nothing was
    written that the client can't see; it may try again."""

    status_code = 503
    RETRY_AFTER = "5"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": self.RETRY_AFTER})
