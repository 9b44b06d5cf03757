"""What `serve` prints before it starts: where the API, its docs, the data and the database
are (never a password: the database's URL is shown as it can be pasted back, its password
***)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..version import __version__

if TYPE_CHECKING:
    from ..host.app import HostConfig

SECRET_PARAMETERS = {"password", "passwd", "sslpassword"}


def without_password(url: str) -> str:
    """An http(s) URL (the S3 endpoint) with any password, in its user part or its query,
    shown as ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        netloc = f"{user}@{host}"
    query = urlencode(
        [
            (key, "***" if key.lower() in SECRET_PARAMETERS else value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*/:",
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def banner(config: HostConfig, host: str, port: int) -> str:
    from ..db.probe import shown_url

    address = f"[{host}]" if ":" in host else host
    url = f"http://{address}:{port}"
    lines = [
        f"arkham-packets {__version__}: the packets API at {url}/api/packets",
        f"  docs      {url}/docs (ReDoc: {url}/redoc)",
        f"  data      {config.data_dir.resolve()}",
        f"  database  {shown_url(config.resolved_database_url)}",
    ]
    settings = config.shard_settings()
    if settings.store == "s3":
        endpoint = settings.s3_endpoint_url or "AWS"
        place = f"s3://{settings.s3_bucket}/{settings.s3_prefix}"
        lines.append(f"  files     {place} at {without_password(endpoint)}")
        if settings.store_fallback == "local":
            lines.append("            and the data directory for those not in it yet (moving)")
    if config.public_base_url:
        lines.append(f"  public    {config.public_base_url} (share links are made absolute)")
    return "\n".join([*lines, "  Ctrl-C stops the server."])
