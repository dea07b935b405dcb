"""`POST /v1/chat`: an answer with citations, agencies and stage (JSON, or SSE when streamed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from bot.api.deps import AdvisorDep
from bot.api.errors import stream_error
from bot.api.schemas import CHAT_EXAMPLES, ERRORS, ChatRequest
from bot.api.state import RecentAnswers
from bot.api.streaming import advisor_events, question, sse
from bot.schemas import ChatResponse
from bot.sources import answer_body

router = APIRouter(tags=["相談"])


@router.post(
    "/chat",
    tags=["相談"],
    summary="DXの相談に答える（出典・相談先・DX段階つき）",
    response_model=ChatResponse,
    responses={
        200: {
            "description": "回答。`stream: true` のときは text/event-stream で、"
            "`delta`（本文の断片 `{text}`）イベントのあとに `final`（回答全体）イベント。"
            "途中のエラーは `error` イベント。",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        413: ERRORS[413],
        422: ERRORS[422],
        503: ERRORS[503],
    },
)
async def chat(
    request: Request,
    advisor: AdvisorDep,
    body: Annotated[ChatRequest, Body(openapi_examples=CHAT_EXAMPLES)],
) -> Any:
    messages = advisor.check_messages(body.messages)
    recent: RecentAnswers = request.app.state.recent
    if not body.stream:
        response = await run_in_threadpool(advisor.ask, messages)
        recent.add(response.message_id, question(messages), answer_body(response.answer))
        return response

    async def events() -> AsyncIterator[bytes]:
        try:
            async for event in advisor_events(advisor, messages):
                if event.kind == "delta":
                    yield sse("delta", {"text": event.text})
                elif event.kind == "final" and event.response is not None:
                    response: ChatResponse = event.response
                    recent.add(response.message_id, question(messages), answer_body(response.answer))
                    yield sse("final", response)
        except Exception as exc:
            status, detail = stream_error(exc)
            yield sse("error", {"status": status, "detail": detail})

    return EventSourceResponse(events())
