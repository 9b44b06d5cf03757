"""Bulk actions in the Frame's shape: POST /batch/{action} with {"ids": [...]}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..core.schemas import NO_NUL, Strict
from ..deps import ScopeDep, ServicesDep
from ..routing import PacketsRoute
from .batch import BatchAction

router = APIRouter(route_class=PacketsRoute)

BATCH_MAX = 500


PacketIdText = Annotated[str, Field(max_length=200, pattern=NO_NUL)]


class BatchRequest(Strict):
    ids: list[PacketIdText] = Field(min_length=1, max_length=BATCH_MAX)


class BatchOut(BaseModel):
    success: bool
    processed: int
    failed: int
    errors: list[dict[str, str]]
    message: str


@router.post("/batch/{action}", response_model=BatchOut)
async def batch(
    action: BatchAction, body: BatchRequest, services: ServicesDep, scope: ScopeDep
) -> BatchOut:
    result = await services.batch.run(scope, action, body.ids)
    return BatchOut(
        success=result.success,
        processed=result.processed,
        failed=result.failed,
        errors=result.errors,
        message=f"{action.value}: {result.processed} done, {result.failed} failed",
    )
