"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request

from bot.api.deps import AdvisorDep
from bot.api.schemas import ERRORS, ReadyResponse

router = APIRouter(tags=["状態"])


@router.get("/healthz", summary="死活確認（プロセスが動いているか）")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="準備完了の確認（索引が読み込まれ、埋め込みモデルが一致しているか）",
    response_model=ReadyResponse,
    responses={503: ERRORS[503]},
)
async def readyz(advisor: AdvisorDep) -> ReadyResponse:
    meta = advisor.index.meta
    return ReadyResponse(
        status="ok",
        build_id=meta.build_id,
        engine=meta.engine,
        model_id=meta.model_id,
        documents=len(meta.files),
        chunks=sum(f.chunks for f in meta.files),
    )


@router.get("/", include_in_schema=False)
async def root(request: Request) -> dict[str, str]:
    links = {"name": "DXナビ API", "health": "/healthz", "ready": "/readyz"}
    return {**links, "docs": "/docs"} if request.app.docs_url else links
