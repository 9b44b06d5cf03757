"""OpenAPI links between operations: which answer supplies which path parameter of another
operation (a created packet's `id` is every `/{packet_id}` route's `packet_id`). Clients and
stateful test tools follow them from one call to the next."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter
from fastapi.routing import APIRoute

# (method, path) of an operation that creates something: the path parameters its answer
# supplies, and the one it is the source of (links are made to operations that need it).
PRODUCERS: dict[tuple[str, str], tuple[str, dict[str, str]]] = {
    ("POST", "/"): ("packet_id", {"packet_id": "$response.body#/id"}),
    ("POST", "/{packet_id}/contents"): (
        "content_entry_id",
        {"packet_id": "$response.body#/packet_id", "content_entry_id": "$response.body#/id"},
    ),
    ("POST", "/{packet_id}/share"): (
        "",
        {
            "packet_id": "$response.body#/packet_id",
            "share_id": "$response.body#/id",
            "token": "$response.body#/access_token",
        },
    ),
    ("POST", "/shared/{token}/contents"): (
        "content_entry_id",
        {"token": "$request.path.token", "content_entry_id": "$response.body#/id"},
    ),
    ("POST", "/{packet_id}/versions"): (
        "",
        {
            "packet_id": "$response.body#/packet_id",
            "version_number": "$response.body#/version_number",
            "from_version": "$response.body#/version_number",
            "to_version": "$response.body#/version_number",
        },
    ),
    ("POST", "/{packet_id}/export"): (
        "export_id",
        {"packet_id": "$response.body#/packet_id", "export_id": "$response.body#/export_id"},
    ),
}


# The tags the shard's operations carry, one per domain, in the order the docs list them.
TAGS = [
    {"name": "packets", "description": "Create, list, read, edit, finalize and archive packets."},
    {"name": "contents", "description": "A packet's items: documents, entities, claims, …"},
    {"name": "files", "description": "Files attached to items: upload and download."},
    {
        "name": "versions",
        "description": "History: snapshots, diffs, restore; verifying the seal, and signing "
        "one made before signed seals.",
    },
    {
        "name": "sharing",
        "description": "The owner's side of share links: make, list, revoke, "
        "read the access log and the comments.",
    },
    {
        "name": "share links",
        "description": "What a link's recipient opens, with the token as "
        "the only credential: JSON, the viewer page, files, comments, edits.",
    },
    {"name": "bundles", "description": "Export (BagIt zip or tar.gz, json), download, import."},
    {"name": "events", "description": "The durable feed of every change."},
    {"name": "batch", "description": "Bulk finalize and archive, in the Frame's shape."},
    {
        "name": "custody",
        "description": "Who sealed a packet and what happened to it since: the installation's "
        "signing keys and each packet's hash-chained custody log.",
    },
]

# Operations a producer's answer does not make available: an item has no file until one is
# attached.
NOT_YET = {("GET", "/{packet_id}/contents/{content_entry_id}/file")}


def _pointer(prefix: str, route: APIRoute, method: str) -> str:
    path = (prefix + route.path).replace("~", "~0").replace("/", "~1")
    return f"#/paths/{path}/{method.lower()}"


def _parameters(route: APIRoute) -> set[str]:
    return set(route.param_convertors)


def add_links(prefix: str, parts: Iterable[APIRouter]) -> None:
    routes = [route for part in parts for route in part.routes if isinstance(route, APIRoute)]
    for producer in routes:
        for method in producer.methods or ():
            known = PRODUCERS.get((method, producer.path))
            if known is None:
                continue
            source, supplied = known
            links = {}
            for consumer in routes:
                needs = _parameters(consumer)
                if not needs or not needs <= supplied.keys() or consumer is producer:
                    continue
                if source and source not in needs:
                    continue
                for consumer_method in sorted(consumer.methods or ()):
                    if (consumer_method, consumer.path) in NOT_YET:
                        continue
                    name = f"{consumer_method}{consumer.path}".replace("/", "_").strip("_")
                    links[name] = {
                        "operationRef": _pointer(prefix, consumer, consumer_method),
                        "parameters": {name: supplied[name] for name in sorted(needs)},
                    }
            status = producer.status_code or 200
            producer.responses.setdefault(status, {}).setdefault("links", {}).update(links)
