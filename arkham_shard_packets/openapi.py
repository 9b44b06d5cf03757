"""The OpenAPI document's tags: one per domain, in the order the docs list them. (Links
between operations are not in it: the interactive docs show them as raw JSON, noise to a
reader; the schema tests add them for their stateful phase, tests/openapi_links.py.)"""

from __future__ import annotations

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
