"""The OpenAPI document is worth reading: every operation has its domain's tag, a written
summary (not one FastAPI made from the function's name), a description, every parameter a
description, and the main request bodies realistic examples that the API accepts."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from arkham_shard_packets.openapi import TAGS

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
DOMAIN_TAGS = {tag["name"] for tag in TAGS} | {"host"}


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, entry in spec["paths"].items()
        for method, operation in entry.items()
        if method in METHODS
    ]


def generated_summaries(app: FastAPI) -> set[str]:
    """What FastAPI would call each operation by itself: its function's name, titled."""
    return {
        route.name.replace("_", " ").title() for route in app.routes if isinstance(route, APIRoute)
    }


async def test_every_operation_is_documented(client: httpx.AsyncClient, app: FastAPI) -> None:
    spec = (await client.get("/openapi.json")).json()
    found = operations(spec)
    assert len(found) >= 43
    generated = generated_summaries(app)
    problems = []
    for method, path, operation in found:
        where = f"{method} {path}"
        tags = operation.get("tags") or []
        if not tags or not set(tags) <= DOMAIN_TAGS or "default" in tags:
            problems.append(f"{where}: tags {tags}")
        if len(tags) != 1:
            problems.append(f"{where}: one domain tag expected, has {tags}")
        summary = operation.get("summary", "")
        if not summary or summary in generated:
            problems.append(f"{where}: summary {summary!r}")
        if len(summary) > 60 or summary.endswith("."):
            problems.append(f"{where}: a summary is one short line ({summary!r})")
        if len(operation.get("description", "")) < 40:
            problems.append(f"{where}: no description")
        for parameter in operation.get("parameters", []):
            if not parameter.get("description"):
                problems.append(f"{where}: parameter {parameter['name']} has no description")
    assert problems == []
    listed = [tag["name"] for tag in spec["tags"]]
    assert set(listed) == DOMAIN_TAGS
    used = {tag for _, _, operation in found for tag in operation["tags"]}
    assert used == DOMAIN_TAGS  # every tag listed is used, and described
    assert all(tag.get("description") for tag in spec["tags"])


def body_examples(spec: dict[str, Any], method: str, path: str) -> list[Any]:
    content = spec["paths"][path][method]["requestBody"]["content"]["application/json"]
    schema = content["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    elif "anyOf" in schema:
        (ref,) = [part["$ref"] for part in schema["anyOf"] if "$ref" in part]
        schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    examples: list[Any] = schema.get("examples", [])
    return examples


async def test_the_main_bodies_have_examples_the_api_takes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    api = "/api/packets"

    def examples(method: str, path: str) -> list[Any]:
        found = body_examples(spec, method, api + path)
        assert found, (method, path)
        return found

    (created,) = [await client.post(f"{api}/", json=body) for body in examples("post", "/")]
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    for body in examples("put", "/{packet_id}"):
        assert (await client.put(f"{api}/{pid}", json=body)).status_code == 200
    for body in examples("post", "/{packet_id}/contents"):
        added = await client.post(f"{api}/{pid}/contents", json=body)
        assert added.status_code == 201, added.text
    for body in examples("post", "/{packet_id}/versions"):
        assert (await client.post(f"{api}/{pid}/versions", json=body)).status_code == 201
    for body in examples("post", "/{packet_id}/share"):
        shared = await client.post(f"{api}/{pid}/share", json=body)
        assert shared.status_code == 201, shared.text
    token = shared.json()["access_token"]
    commenter = await client.post(
        f"{api}/{pid}/share", json={"shared_with": "public", "permissions": "comment"}
    )
    for body in examples("post", "/shared/{token}/comments"):
        link = f"{api}/shared/{commenter.json()['access_token']}/comments"
        assert (await client.post(link, json=body)).status_code == 201
    assert token
    for body in examples("post", "/{packet_id}/export"):
        assert (await client.post(f"{api}/{pid}/export", json=body)).status_code == 200
    for body in examples("post", "/batch/{action}"):
        answered = await client.post(f"{api}/batch/finalize", json=body)
        assert answered.status_code == 200  # made-up ids: each fails on its own
        assert answered.json()["failed"] == len(body["ids"])
