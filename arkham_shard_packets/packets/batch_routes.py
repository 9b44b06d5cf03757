"""Bulk actions in the Frame's shape: POST /batch/{action} with {"ids": [...]}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import ConfigDict, Field

from ..deps import ScopeDep, ServicesDep
from ..records.examples import Answer
from ..records.schemas import NO_NUL, Strict
from ..routing import PacketsRoute
from .batch import BatchAction

router = APIRouter(route_class=PacketsRoute, tags=["batch"])

BATCH_MAX = 500


PacketIdText = Annotated[str, Field(max_length=200, pattern=NO_NUL)]


class BatchRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ids": [
                        "0b4d6f0e-4c1b-4a43-9d1f-2f0c8e6a7b10",
                        "5e2f9a71-8d3c-4e0b-b6a4-91c7d2e3f405",
                    ]
                }
            ]
        }
    )

    ids: list[PacketIdText] = Field(
        min_length=1, max_length=BATCH_MAX, description=f"Packet ids, 1 to {BATCH_MAX}"
    )


class BatchOut(Answer):
    success: bool
    processed: int
    failed: int
    errors: list[dict[str, str]]
    message: str


@router.post("/batch/{action}", response_model=BatchOut, summary="Finalize or archive many")
async def batch(
    action: Annotated[BatchAction, Path(description="finalize or archive")],
    body: BatchRequest,
    services: ServicesDep,
    scope: ScopeDep,
) -> BatchOut:
    """The Frame's bulk shape: each id is handled on its own, in its own transaction, so one
    refusal (unknown, wrong status) doesn't stop the others; `errors` names each failure
    with its reason, `success` is true only when none failed."""
    result = await services.batch.run(scope, action, body.ids)
    return BatchOut(
        success=result.success,
        processed=result.processed,
        failed=result.failed,
        errors=result.errors,
        message=f"{action.value}: {result.processed} done, {result.failed} failed",
    )
