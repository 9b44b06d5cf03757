"""What the interactive docs show of each answer, read from the OpenAPI document: the example
Swagger UI makes of every JSON answer is a real one (no "string", no `additionalProp1`) and
one the API's own response models accept; `/health` lists only the answers it can give; no
raw links; the bearer scheme wherever a token applies (and only there), so `/docs` has its
Authorize button."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.records.examples import Answer

from .conftest import POSTGRES_URL, reset_postgres
from .frame_users import Users
from .live_host import CHROMIUM_FLAGS, free_port, require_chromium
from .test_host_startup import unreachable_url
from .test_openapi_docs import operations

PLACEHOLDERS = {"string", "additionalProp1"}


def models() -> dict[str, type[BaseModel]]:
    """Every response model, by the name its schema has in the document."""
    found: dict[str, type[BaseModel]] = {}
    queue: list[type[BaseModel]] = [Answer]
    while queue:
        model = queue.pop()
        found[model.__name__] = model
        queue.extend(model.__subclasses__())
    return found


class Sampler:
    """Swagger UI's example of a schema, as its sample generator makes one: a schema's own
    example first, else one made from its type, which is where placeholders come from."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.components = spec["components"]["schemas"]
        self.placeholders: list[str] = []

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def sample(self, schema: dict[str, Any], where: str) -> Any:
        schema = self.resolve(schema)
        if schema.get("examples"):
            return schema["examples"][0]
        for key in ("example", "default", "const"):
            if key in schema:
                return schema[key]
        if schema.get("enum"):
            return schema["enum"][0]
        if "anyOf" in schema or "oneOf" in schema:
            options = schema.get("anyOf") or schema["oneOf"]
            real = [o for o in options if self.resolve(o).get("type") != "null"]
            return self.sample((real or options)[0], where)
        kind = schema.get("type")
        if kind == "array":
            return [self.sample(schema.get("items", {}), f"{where}[]")]
        if kind == "object" or "properties" in schema or "additionalProperties" in schema:
            made = {
                name: self.sample(part, f"{where}.{name}")
                for name, part in schema.get("properties", {}).items()
            }
            if not made and schema.get("additionalProperties") not in (None, False):
                self.placeholders.append(f"{where}: additionalProp1")
                made["additionalProp1"] = {}
            return made
        if (kind == "string" and "format" not in schema) or not schema:
            self.placeholders.append(f"{where}: string")
            return "string"
        return {"integer": 0, "number": 0.0, "boolean": True}.get(str(kind))


def accepted(schema: dict[str, Any], sample: Any, known: dict[str, type[BaseModel]]) -> None:
    """The sample is an answer the API's model for it accepts (inline schemas: their shape)."""
    if "$ref" in schema:
        known[schema["$ref"].rsplit("/", 1)[-1]].model_validate(sample)
    elif schema.get("type") == "array":
        for element in sample:
            accepted(schema["items"], element, known)
    elif "detail" in schema.get("properties", {}):
        assert set(sample) == {"detail"} and isinstance(sample["detail"], (str, list)), sample


async def test_every_answer_s_example_is_a_real_one(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    sampler, known = Sampler(spec), models()
    shown = 0
    for method, path, operation in operations(spec):
        for status, answer in operation["responses"].items():
            content = answer.get("content", {}).get("application/json")
            if content is None:
                continue
            where = f"{method} {path} {status}"
            sample = content.get("example") or sampler.sample(content["schema"], where)
            assert not PLACEHOLDERS & set(str(sample).replace("'", " ").split()), where
            accepted(content["schema"], sample, known)
            shown += 1
    assert sampler.placeholders == []
    assert shown > 300


async def test_health_documents_only_the_answers_it_can_give(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    spec = (await client.get("/openapi.json")).json()
    shard = spec["paths"]["/api/packets/health"]["get"]
    assert list(shard["responses"]) == ["200"]  # no caller, no database: no 401, 403, 503
    assert "security" not in shard
    host = spec["paths"]["/api/health"]["get"]["responses"]
    assert list(host) == ["200", "503"]
    known = models()
    assert host["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/HostHealth")
    known["HealthOut"].model_validate((await client.get("/api/packets/health")).json())
    known["HostHealth"].model_validate((await client.get("/api/health")).json())

    failing = create_app(
        HostConfig(data_dir=tmp_path, database_url=unreachable_url(), require_shards=False)
    )
    async with failing.router.lifespan_context(failing):
        transport = httpx.ASGITransport(app=failing)
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as http:
            unhealthy = await http.get("/api/health")
    assert unhealthy.status_code == 503
    known["HostHealth"].model_validate(unhealthy.json())
    assert known["HostHealth"].model_validate(host["503"]["content"]["application/json"]["example"])


async def test_the_document_holds_no_raw_links(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    answers = [a for _, _, op in operations(spec) for a in op["responses"].values()]
    assert [a for a in answers if "links" in a] == []


def security(spec: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(method, path): op.get("security") for method, path, op in operations(spec)}


def is_share_link(path: str) -> bool:
    return path.startswith("/api/packets/shared/")


async def test_frame_users_optional_or_required_where_a_caller_is_read(
    client: httpx.AsyncClient, locked: FastAPI, users: Users
) -> None:
    """The suite's host has Frame users: a user's token is optional where a caller is read
    (anonymous callers act as `system`), and required with ARKHAM_PACKETS_REQUIRE_USER."""
    optional = (await client.get("/openapi.json")).json()
    scheme = optional["components"]["securitySchemes"]["bearer"]
    assert scheme == scheme | {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for (method, path), declared in security(optional).items():
        if is_share_link(path) or path in ("/api/packets/health", "/api/health"):
            assert declared is None, (method, path)
        elif path.startswith("/api"):
            assert declared == [{"bearer": []}, {}], (method, path)
    transport = httpx.ASGITransport(app=locked)
    async with httpx.AsyncClient(transport=transport, base_url="http://l") as http:
        required = (await http.get("/openapi.json")).json()
        for (method, path), declared in security(required).items():
            if declared is not None:
                assert declared == [{"bearer": []}], (method, path)
        assert security(required)[("GET", "/api/packets/")] == [{"bearer": []}]
        assert (await http.get("/api/packets/")).status_code == 401  # as declared
        signed_in = await http.get(
            "/api/packets/", headers=users.headers("7c0f3a0e-0000-4000-8000-00000000000a")
        )
        assert signed_in.status_code == 200
        assert (await http.get("/api/packets/health")).status_code == 200  # declares none


@pytest.fixture
async def guarded(tmp_path: Path, database_url: str) -> AsyncIterator[FastAPI]:
    if POSTGRES_URL:
        await reset_postgres(database_url)
    app = create_app(HostConfig(tmp_path / "d", database_url, api_token="s3cret"))
    async with app.router.lifespan_context(app):
        yield app


async def test_the_api_token_on_every_operation_but_a_share_link_s(guarded: FastAPI) -> None:
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://g") as http:
        spec = (await http.get("/openapi.json")).json()
        assert spec["components"]["securitySchemes"]["bearer"]["type"] == "http"
        declared = security(spec)
        for method, path, operation in operations(spec):
            if not path.startswith("/api"):
                continue
            if is_share_link(path):
                assert declared[(method, path)] is None, (method, path)
                continue
            assert declared[(method, path)] == [{"bearer": []}], (method, path)
            refusal = operation["responses"]["401"]["content"]["application/json"]
            assert "example" in refusal or "schema" in refusal
        for path in ("/api/packets/health", "/api/health", "/api/packets/keys"):  # as declared
            assert (await http.get(path)).status_code == 401
            assert (await http.get(path, headers={"Authorization": "Bearer s3cret"})).is_success
        assert (await http.get("/api/packets/shared/no-such-token")).status_code == 404


async def test_no_token_applies_without_a_token_or_users(tmp_path: Path, database_url: str) -> None:
    if POSTGRES_URL:
        await reset_postgres(database_url)
    app = create_app(HostConfig(tmp_path / "open", database_url))
    async with app.router.lifespan_context(app):
        spec = app.openapi()
    assert "securitySchemes" not in spec["components"]
    assert {value for value in security(spec).values()} == {None}


def up(url: str, server: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, headers={"Authorization": "Bearer s3cret"}).is_success:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def test_the_docs_page_has_its_authorize_button_with_an_api_token(tmp_path: Path) -> None:
    chromium = require_chromium()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
    env["ARKHAM_PACKETS_API_TOKEN"] = "s3cret"
    command = [sys.executable, "-m", "arkham_shard_packets.cli", "serve", "--port", str(port)]
    command += ["--data-dir", str(tmp_path / "data")]
    if POSTGRES_URL:
        command += ["--database-url", POSTGRES_URL]
    if POSTGRES_URL:
        asyncio.run(reset_postgres(POSTGRES_URL))
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL) as server:
        try:
            up(f"http://127.0.0.1:{port}/api/health", server)
            flags = [*CHROMIUM_FLAGS, "--headless", f"--user-data-dir={tmp_path / 'p'}"]
            flags += ["--virtual-time-budget=15000", "--dump-dom"]
            page = subprocess.run(
                [chromium, *flags, f"http://127.0.0.1:{port}/docs"],
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            server.send_signal(signal.SIGINT)
            server.communicate(timeout=30)
    assert 'class="btn authorize' in page.stdout, page.stdout[-3000:]
