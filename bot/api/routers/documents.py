"""The guides: search (`POST /v1/search`), and the lists of documents, agencies and stages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from starlette.concurrency import run_in_threadpool

from bot.api.deps import AdvisorDep
from bot.api.schemas import (
    ERRORS,
    SEARCH_EXAMPLES,
    DocumentInfo,
    DocumentsResponse,
    SearchRequest,
    SearchResponse,
)
from bot.catalog import Agency, Stage, agencies, stages

router = APIRouter(tags=["資料"])


@router.post(
    "/search",
    tags=["資料"],
    summary="資料の該当箇所を探す（ハイブリッド検索）",
    response_model=SearchResponse,
    responses={413: ERRORS[413], 422: ERRORS[422], 503: ERRORS[503]},
)
async def search(
    advisor: AdvisorDep, body: Annotated[SearchRequest, Body(openapi_examples=SEARCH_EXAMPLES)]
) -> SearchResponse:
    query, expansions, hits = await run_in_threadpool(advisor.search_guides, body.query, body.k, body.doc_ids)
    return SearchResponse.of(query, expansions, hits, advisor.index.urls, advisor.index.newer)


@router.get(
    "/documents", tags=["資料"], summary="索引に入っている資料の一覧", response_model=DocumentsResponse
)
async def documents(advisor: AdvisorDep) -> DocumentsResponse:
    meta = advisor.index.meta
    return DocumentsResponse(
        build_id=meta.build_id,
        documents=[
            DocumentInfo(
                doc_id=f.doc_id,
                title=f.title,
                file=f.path.rsplit("/", 1)[-1],
                pages=f.pages,
                chunks=f.chunks,
                url=f.url,
            )
            for f in meta.files
        ],
    )


@router.get("/agencies", tags=["資料"], summary="相談先（支援機関）の一覧", response_model=list[Agency])
async def list_agencies() -> list[Agency]:
    return agencies()


@router.get("/stages", tags=["資料"], summary="デジタル活用の4段階", response_model=list[Stage])
async def list_stages() -> list[Stage]:
    return stages()
