"""👍/👎 with a comment on an answer, and their CSV export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from bot.api.schemas import ERRORS, FEEDBACK_EXAMPLES, FeedbackRequest
from bot.feedback import FeedbackRecord, FeedbackStore

router = APIRouter(tags=["フィードバック"])


@router.post(
    "/feedback",
    tags=["フィードバック"],
    summary="回答に👍/👎とコメントをつける（同じ回答への2回目以降は上書き）",
    status_code=201,
    response_model=FeedbackRecord,
    responses={413: ERRORS[413], 422: ERRORS[422]},
)
async def feedback(
    request: Request, body: Annotated[FeedbackRequest, Body(openapi_examples=FEEDBACK_EXAMPLES)]
) -> FeedbackRecord:
    store: FeedbackStore = request.app.state.feedback
    known = request.app.state.recent.get(body.message_id)
    question, answer = known if known else (None, None)
    return await run_in_threadpool(store.save, body.message_id, body.rating, body.comment, question, answer)


@router.get(
    "/feedback/export",
    tags=["フィードバック"],
    summary="フィードバックをCSVで出力（評価担当者向け）",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "UTF-8（BOMつき）のCSV"}},
)
async def feedback_export(request: Request) -> Response:
    store: FeedbackStore = request.app.state.feedback
    text = await run_in_threadpool(store.export_csv)
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="dxnavi-feedback.csv"'},
    )
