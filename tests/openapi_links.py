"""OpenAPI links between the shard's operations, for schemathesis's stateful phase: which answer
supplies which path parameter of another operation (a created packet's `id` is every
`/{packet_id}` route's `packet_id`). The served document has none (the interactive docs show
links as raw JSON); the fuzz test adds them to the copy it hands schemathesis."""

from __future__ import annotations

import copy
import re
from typing import Any

from arkham_shard_packets.api import PREFIX

METHODS = ("get", "put", "post", "delete", "patch")

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

# Operations a producer's answer does not make available: an item has no file until one is
# attached.
NOT_YET = {("GET", "/{packet_id}/contents/{content_entry_id}/file")}


def pointer(path: str, method: str) -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{escaped}/{method.lower()}"


def linked(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document with a link from each producer to every operation whose path
    parameters its answer supplies."""
    spec = copy.deepcopy(spec)
    operations = [
        (method.upper(), path[len(PREFIX) :], entry[method])
        for path, entry in spec["paths"].items()
        if path.startswith(PREFIX)
        for method in METHODS
        if method in entry
    ]
    for method, path, operation in operations:
        known = PRODUCERS.get((method, path))
        if known is None:
            continue
        source, supplied = known
        links = {}
        for other_method, other_path, _ in operations:
            needs = set(re.findall(r"\{(\w+)\}", other_path))
            if (
                not needs
                or not needs <= supplied.keys()
                or (other_method, other_path)
                == (
                    method,
                    path,
                )
            ):
                continue
            if (source and source not in needs) or (other_method, other_path) in NOT_YET:
                continue
            name = f"{other_method}{other_path}".replace("/", "_").strip("_")
            links[name] = {
                "operationRef": pointer(PREFIX + other_path, other_method),
                "parameters": {need: supplied[need] for need in sorted(needs)},
            }
        status = next(code for code in operation["responses"] if code.startswith("2"))
        operation["responses"][status].setdefault("links", {}).update(links)
    return spec
