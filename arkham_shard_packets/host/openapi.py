"""The standalone host's OpenAPI document says who may call what: the bearer scheme is declared
wherever a token applies, so the interactive docs have their Authorize button.

- With ARKHAM_PACKETS_API_TOKEN, every `/api` operation but a share link's needs the token
  (the host answers 401 without it).
- With Frame users (ARKHAM_PACKETS_AUTH_*), every operation that reads its caller (those that
  can answer 401; not `/health`, not a share link's) takes a user's token: required with
  ARKHAM_PACKETS_REQUIRE_USER=true, else optional (anonymous callers act as `system`).
- With neither, no token applies, and none is declared.

A share link's operations are left alone: the token in their path is their credential.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

SCHEME = "bearer"
API_TOKEN_REFUSAL = {
    "description": "The host's API token (ARKHAM_PACKETS_API_TOKEN) is missing or wrong",
    "content": {"application/json": {"example": {"detail": "missing or wrong bearer token"}}},
}
OPERATIONS = {"get", "put", "post", "delete", "patch", "head", "options"}


def scheme(api_token: bool) -> dict[str, Any]:
    if api_token:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The host's API token, ARKHAM_PACKETS_API_TOKEN: `Authorization: "
            "Bearer <token>` on every /api request but a share link's.",
        }
    return {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A Frame user's token (on the standalone host, `arkham-packets token "
        "EMAIL`): the caller's tenant and role. Share links need none.",
    }


def declare_callers(
    schema: dict[str, Any],
    is_public: Callable[[str, str], bool],
    api_token: bool,
    users_required: bool | None,
) -> dict[str, Any]:
    """`schema` with the bearer scheme on every operation a token applies to. `users_required`:
    None without Frame users, else whether a user is required."""
    if not api_token and users_required is None:
        return schema
    schema.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME] = scheme(
        api_token
    )
    required: list[dict[str, list[str]]] = [{SCHEME: []}]
    for path, entry in schema.get("paths", {}).items():
        for method, operation in entry.items():
            if method not in OPERATIONS or not path.startswith("/api"):
                continue
            if is_public(method.upper(), path):
                continue
            responses = operation.setdefault("responses", {})
            if api_token:
                operation["security"] = required
                responses.setdefault("401", API_TOKEN_REFUSAL)
            elif "401" in responses:
                operation["security"] = required if users_required else [*required, {}]
    return schema


def documented(
    app: FastAPI,
    is_public: Callable[[str, str], bool],
    api_token: bool,
    users_required: bool | None,
) -> None:
    """The app's OpenAPI document, built once as FastAPI builds it, then given its callers."""
    built = app.openapi

    def openapi() -> dict[str, Any]:
        schema = built()
        if SCHEME in schema.get("components", {}).get("securitySchemes", {}):
            return schema
        return declare_callers(schema, is_public, api_token, users_required)

    app.openapi = openapi  # type: ignore[method-assign]
