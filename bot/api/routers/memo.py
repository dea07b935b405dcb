"""`POST /v1/memo`: the 相談メモ for the agency the owner chose, as a PDF or Markdown file."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Body
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from bot.api.deps import AdvisorDep
from bot.api.schemas import ERRORS, MEMO_EXAMPLES, MemoRequest
from bot.memo import Company, make_memo, memo_markdown
from bot.memo_pdf import memo_pdf

router = APIRouter(tags=["相談"])
MEDIA = {"pdf": "application/pdf", "markdown": "text/markdown; charset=utf-8"}


@router.post(
    "/memo",
    summary="相談メモ（支援機関に持っていく1枚）を作る: PDF または Markdown",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {}, "text/markdown": {}},
            "description": "メモのファイル（添付として）。会話と資料に書かれたことだけを載せます。",
        },
        413: ERRORS[413],
        422: ERRORS[422],
        503: ERRORS[503],
    },
)
async def memo(
    advisor: AdvisorDep, body: Annotated[MemoRequest, Body(openapi_examples=MEMO_EXAMPLES)]
) -> Response:
    company = Company(name=body.company_name, industry=body.industry, employees=body.employees)
    made = await run_in_threadpool(make_memo, advisor, body.messages, body.agency_id, company)
    if body.format == "pdf":
        content = await run_in_threadpool(memo_pdf, made)
    else:
        content = memo_markdown(made).encode("utf-8")
    extension = "pdf" if body.format == "pdf" else "md"
    ascii_name = f"dxnavi-memo-{made.made_on:%Y%m%d}.{extension}"
    japanese = quote(f"DX相談メモ_{made.made_on:%Y%m%d}.{extension}")
    return Response(
        content,
        media_type=MEDIA[body.format],
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{japanese}",
            "X-Dxnavi-Agency": made.agency_id,
        },
    )
