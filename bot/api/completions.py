"""OpenAI Chat Completions shapes: messages in, chat.completion bodies and chunks out, usage counted in
MeCab morphemes, and a front-end's long chat fitted to what the advisor takes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi.sse import EventSourceResponse, format_sse_event

from bot.api.schemas import MODEL_ID, ChatCompletionRequest, OpenAIMessage
from bot.schemas import Message
from ingest.tokenize import count_tokens


def advisor_messages(messages: list[OpenAIMessage]) -> list[Message]:
    """OpenAI messages → advisor messages: text parts joined, system/developer/tool turns left out."""
    out: list[Message] = []
    for m in messages:
        if m.role not in ("user", "assistant"):
            continue
        if isinstance(m.content, list):
            text = "".join(
                str(p.get("text", "")) for p in m.content if p.get("type") in ("text", "input_text")
            )
        else:
            text = m.content or ""
        out.append(Message(role=m.role, content=text))  # type: ignore[arg-type]
    return out


def fit_history(messages: list[Message], max_messages: int, max_chars: int) -> list[Message]:
    """A front-end's whole chat, cut to what the advisor takes: the most recent turns that fit.

    The per-message limit applies to the user's newest message (an over-long one is still refused);
    earlier turns that are too long, and assistant turns the client echoes back, never block the chat.
    """
    if not messages:
        return messages
    *earlier, newest = messages
    kept = [m for m in earlier if m.role == "assistant" or len(m.content) <= max_chars]
    recent = kept[-(max_messages - 1) :] if max_messages > 1 else []
    while recent and recent[0].role != "user":  # start the window on a user turn
        recent = recent[1:]
    return [*recent, newest]


def usage(messages: list[Message], completion: str) -> dict[str, int]:
    """Token counts as OpenAI reports them, counted in MeCab morphemes (README「OpenAI互換」)."""
    prompt = sum(count_tokens(m.content) for m in messages)
    done = count_tokens(completion)
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def wants_usage(body: ChatCompletionRequest) -> bool:
    return bool((body.stream_options or {}).get("include_usage"))


def completion_body(cid: str, created: int, text: str, messages: list[Message]) -> dict[str, Any]:
    """A non-streamed chat.completion holding `text`, with its usage."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage(messages, text),
    }


def whole_completion(text: str, messages: list[Message], stream: bool, include_usage: bool = False) -> Any:
    """A whole completion holding `text` (JSON, or SSE chunks when streamed)."""
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not stream:
        return completion_body(cid, created, text, messages)

    async def chunks() -> AsyncIterator[bytes]:
        yield completion_chunk(cid, created, {"role": "assistant", "content": text})
        yield completion_chunk(cid, created, {}, finish="stop")
        if include_usage:
            yield completion_chunk(cid, created, None, usage=usage(messages, text))
        yield format_sse_event(data_str="[DONE]")

    return EventSourceResponse(chunks())


def completion_chunk(
    cid: str,
    created: int,
    delta: dict[str, Any] | None,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
) -> bytes:
    payload: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        payload["usage"] = usage
    return format_sse_event(data_str=json.dumps(payload, ensure_ascii=False))
